//go:build tools

// Package deps pins the modules later packages build on, so go.mod and
// go.sum stay complete while the packages that import them are written.
// Delete an import here once a real package imports it.
package deps

import (
	_ "blitiri.com.ar/go/spf"
	_ "github.com/JohannesKaufmann/html-to-markdown/v2"
	_ "github.com/emersion/go-message/charset"
	_ "github.com/emersion/go-message/mail"
	_ "github.com/emersion/go-msgauth/authres"
	_ "github.com/emersion/go-msgauth/dkim"
	_ "github.com/emersion/go-msgauth/dmarc"
	_ "github.com/emersion/go-smtp"
	_ "github.com/gofrs/flock"
	_ "github.com/google/renameio/v2"
	_ "github.com/mark3labs/mcp-go/client"
	_ "github.com/mark3labs/mcp-go/server"
	_ "github.com/miekg/dns"
	_ "github.com/pelletier/go-toml/v2"
	_ "github.com/rs/zerolog"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "github.com/yuin/goldmark"
	_ "golang.org/x/net/publicsuffix"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/time/rate"
)
