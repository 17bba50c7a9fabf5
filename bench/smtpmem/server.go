package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/storage"
)

// serve runs the inbound SMTP server over a store in dataDir on
// 127.0.0.1:0, prints its address and runs until killed.
func serve(dataDir string, mailboxes, sizeMiB int) error {
	u, err := user.Current()
	if err != nil {
		return err
	}
	cfg := domains.Default("bench.example")
	cfg.SMTP.Hostname = "mx.bench.example"
	cfg.SMTP.MaxMessageBytes = int64(sizeMiB+1) << 20
	cfg.SMTP.MaxConnections = 1000
	cfg.SMTP.MaxConnectionsPerIP = 1000
	for i := range mailboxes {
		n := fmt.Sprintf("box%d@bench.example", i)
		cfg.Mailboxes[n] = domains.Mailbox{Name: n, Owner: u.Username}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	reg := domains.NewRegistry(cfg)
	store, err := storage.Open(dataDir, storage.Options{MaxFileBytes: cfg.SMTP.MaxMessageBytes + storage.FileHeadroom})
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	del, err := inbound.New(inbound.Config{
		Registry: reg, Store: store, Resolver: noDNS{}, Log: log,
		SpoolDir: filepath.Join(dataDir, ".spool", "smtp"),
	})
	if err != nil {
		return err
	}
	srv, err := inbound.NewServer(inbound.ServerConfig{Registry: reg, Deliverer: del, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	go waitSignals(debug.FreeOSMemory)
	return srv.Serve(ln)
}

// noDNS answers every lookup "not found" at once: the benchmark measures
// intake, not DNS.
type noDNS struct{}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (noDNS) LookupTXT(_ context.Context, name string) ([]string, error) { return nil, notFound(name) }
func (noDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) { return nil, notFound(name) }
func (noDNS) LookupIP(_ context.Context, name string) ([]net.IP, error)  { return nil, notFound(name) }
