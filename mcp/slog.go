package mcp

import (
	"log/slog"

	"github.com/rs/zerolog"
)

// warnLogger is the slog.Logger mcp-go's HTTP transports log through:
// zerolog's own slog handler over our logger, raised to Warn, so that
// mcp-go's transport chatter at Info and Debug is dropped and its warnings
// and errors pass (book/architecture.md, the mcp-go trap). mcp-go never sees
// request headers here, so no token can reach the log.
func warnLogger(log zerolog.Logger) *slog.Logger {
	l := log.With().Str("component", "mcp-go").Logger()
	return slog.New(zerolog.NewSlogHandler(l.Level(max(l.GetLevel(), zerolog.WarnLevel))))
}
