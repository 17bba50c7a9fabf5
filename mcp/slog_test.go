package mcp

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestWarnLoggerDropsChatter: mcp-go's Info and Debug lines never reach
// our log; its warnings and errors do, at their level, with their
// attributes and the component.
func TestWarnLoggerDropsChatter(t *testing.T) {
	t.Parallel()
	for _, base := range []zerolog.Level{zerolog.TraceLevel, zerolog.DebugLevel, zerolog.InfoLevel} {
		var buf bytes.Buffer
		l := warnLogger(zerolog.New(&buf).Level(base))
		l.Debug("debug chatter")
		l.Info("info chatter", "session", "s1")
		l.With("conn", 7).Warn("slow client", "err", errors.New("reset"))
		l.Error("write failed")
		out := buf.String()
		if strings.Contains(out, "chatter") {
			t.Errorf("level %s: Info or Debug passed:\n%s", base, out)
		}
		for _, want := range []string{`"level":"warn"`, `"message":"slow client"`, `"conn":7`, `"err":"reset"`,
			`"component":"mcp-go"`, `"level":"error"`, `"message":"write failed"`} {
			if !strings.Contains(out, want) {
				t.Errorf("level %s: %s missing:\n%s", base, want, out)
			}
		}
		if l.Enabled(context.Background(), -4) || l.Enabled(context.Background(), 0) {
			t.Errorf("level %s: Debug or Info enabled", base)
		}
	}
	// A logger set above Warn stays there.
	var buf bytes.Buffer
	l := warnLogger(zerolog.New(&buf).Level(zerolog.ErrorLevel))
	l.Warn("dropped")
	if buf.Len() != 0 {
		t.Errorf("a Warn passed an Error-level logger: %s", buf.String())
	}
}
