package mcp

import (
	"context"
	"log/slog"

	"github.com/rs/zerolog"
)

// warnLogger adapts zerolog to the slog.Logger mcp-go's HTTP transports
// log through, passing only Warn and above: mcp-go's transport chatter at
// Info and Debug is not ours to keep (DESIGN: mcp-go logging at Warn).
// mcp-go never sees request headers here, so no token can reach the log.
func warnLogger(log zerolog.Logger) *slog.Logger {
	return slog.New(zerologHandler{log: log.With().Str("component", "mcp-go").Logger()})
}

type zerologHandler struct {
	log   zerolog.Logger
	attrs []slog.Attr
}

func (h zerologHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h zerologHandler) Handle(_ context.Context, r slog.Record) error {
	ev := h.log.Warn()
	if r.Level >= slog.LevelError {
		ev = h.log.Error()
	}
	for _, a := range h.attrs {
		ev = ev.Str(a.Key, a.Value.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		ev = ev.Str(a.Key, a.Value.String())
		return true
	})
	ev.Msg(r.Message)
	return nil
}

func (h zerologHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return zerologHandler{log: h.log, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

// WithGroup flattens groups: mcp-go does not use them for anything we keep.
func (h zerologHandler) WithGroup(string) slog.Handler { return h }
