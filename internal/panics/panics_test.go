package panics

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestRecoveredLogsStackAndCounts(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	var c Counter
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.Recovered(log, "test", p)
			}
		}()
		panic("boom")
	}()
	if c.Count() != 1 {
		t.Fatalf("count = %d, want 1", c.Count())
	}
	out := buf.String()
	for _, want := range []string{`"where":"test"`, `"panic":"boom"`, "panics_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	var nilCounter *Counter
	nilCounter.Recovered(log, "nil", "x") // must not panic
	if nilCounter.Count() != 0 {
		t.Fatal("nil counter counts")
	}
}
