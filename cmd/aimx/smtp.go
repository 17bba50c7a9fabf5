package main

import (
	"crypto/tls"
	"fmt"
	"path/filepath"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/storage"
)

// newSMTPService builds SMTP intake from the config at startup: the caching
// resolver, the deliverer over the store, and the go-smtp server with
// STARTTLS when [smtp] tls_cert/tls_key are set. Listener settings (TLS,
// limits, DNS servers) apply at start; a reload changes routing, trust and
// mailboxes at once.
//
// onStored is told about every newly stored message (hooks, bounces), obs
// (when not nil) how every transaction ended (metrics). The deliverer is
// returned too: local recipients of outbound mail go through it
// (book/sending.md).
func newSMTPService(a *app, cfg *domains.Config, changer *domains.Changer, store storage.MessageStore, hk *hooks.Scheduler,
	onStored func(inbound.StoredMessage), obs inbound.Observer) (*inbound.Server, *inbound.Deliverer, error) {
	registry := changer.Registry
	resolver, err := dnsresolver.New(dnsresolver.Config{Servers: cfg.DNS.Servers})
	if err != nil {
		return nil, nil, fmt.Errorf("DNS resolver: %w", err)
	}
	spoolDir := "" // DATA is spooled under <data>/.spool/smtp (book/smtp.md "Spooling")
	if r, ok := store.(interface{ Root() string }); ok {
		spoolDir = filepath.Join(r.Root(), ".spool", "smtp")
	}
	deliverer, err := inbound.New(inbound.Config{Registry: registry, Locks: &changer.Locks, Store: store, Resolver: resolver, Log: a.log,
		HooksDueFor: func(mb domains.Mailbox, trusted, auto string, hops int) []string {
			return hk.DueFor(mb, hooks.Arrival{Trusted: trusted, AutoSubmitted: auto, OwnHops: hops})
		}, OnStored: onStored, SpoolDir: spoolDir, Panics: a.panics, Report: reportOriginal})
	if err != nil {
		return nil, nil, fmt.Errorf("SMTP intake: %w", err)
	}
	var tlsConfig *tls.Config
	if cfg.SMTP.TLSCert != "" || cfg.SMTP.TLSKey != "" {
		if tlsConfig, err = inbound.LoadTLSConfig(cfg.SMTP.TLSCert, cfg.SMTP.TLSKey); err != nil {
			return nil, nil, fmt.Errorf("[smtp] tls_cert/tls_key: %w", err)
		}
	}
	srv, err := inbound.NewServer(inbound.ServerConfig{Registry: registry, Deliverer: deliverer, TLSConfig: tlsConfig, Log: a.log, Panics: a.panics,
		Observer: obs})
	if err != nil {
		return nil, nil, fmt.Errorf("SMTP server: %w", err)
	}
	return srv, deliverer, nil
}
