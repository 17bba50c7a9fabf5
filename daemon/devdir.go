package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/internal/selfsigned"
	"github.com/aimx-dev/aimx/storage"
)

// DefaultDevDomain is the domain a new dev dir is seeded with (book/dev-mode.md); a
// .localhost name never leaves the machine.
const DefaultDevDomain = "agent.localhost"

// DevDir is a dev-mode directory (book/dev-mode.md): config, keys, TLS pair, data
// and runtime dirs, all owned by the user running `aimx serve --dev`.
type DevDir struct {
	Dir string
	// Seeded lists what this call created, for the startup message.
	Seeded []string
}

// ConfigFile is the dev dir's config.toml.
func (d *DevDir) ConfigFile() string { return filepath.Join(d.Dir, "config.toml") }

// MCPTokenFile is the dev dir's mcp-token: a token for the developer with
// hook rights, the secret and a newline, 0600 (book/dev-mode.md).
func (d *DevDir) MCPTokenFile() string { return filepath.Join(d.Dir, "mcp-token") }

// TokensFile is the dev dir's token store (the config dir's tokens.json).
func (d *DevDir) TokensFile() string { return filepath.Join(d.Dir, tokens.FileName) }

// TLSPaths are the dev dir's self-signed certificate and key.
func (d *DevDir) TLSPaths() (cert, key string) {
	return filepath.Join(d.Dir, "tls", "cert.pem"), filepath.Join(d.Dir, "tls", "key.pem")
}

// SeedDevDir prepares a dev dir. A new dir gets a config.toml naming the
// given domains (or agent.localhost), mailbox hello@ and the catchall of the
// first domain owned by owner, absolute data and runtime dirs and the TLS
// pair. An existing dir keeps its config untouched but gains whatever seed
// it lacks: the TLS pair, a DKIM key for each configured domain and the
// mcp-token (a token minted for owner with hook rights).
func SeedDevDir(dir string, doms []string, owner string) (*DevDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dev dir %s: %w", dir, err)
	}
	d := &DevDir{Dir: abs}
	// Every dir made durably: its parent fsynced (book/security.md).
	for _, sub := range []string{".", "data", "run", "tls"} {
		sd, err := safefs.MkdirAll(filepath.Join(abs, sub), 0o700)
		if err != nil {
			return nil, fmt.Errorf("create dev dir: %w", err)
		}
		sd.Close()
	}
	certPath, keyPath := d.TLSPaths()
	if _, err := os.Stat(d.ConfigFile()); errors.Is(err, os.ErrNotExist) {
		if len(doms) == 0 {
			doms = []string{DefaultDevDomain}
		}
		cfg := domains.Default(doms...)
		first := cfg.DefaultDomain()
		cfg.DataDir = filepath.Join(abs, "data")
		cfg.RuntimeDir = filepath.Join(abs, "run")
		cfg.SMTP.TLSCert, cfg.SMTP.TLSKey = certPath, keyPath
		for _, name := range []string{"hello@" + first, "*@" + first} {
			cfg.Mailboxes[name] = domains.Mailbox{Name: name, Owner: owner}
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("seed dev config: %w", err)
		}
		if err := (&domains.Store{Path: d.ConfigFile()}).Save(cfg); err != nil {
			return nil, fmt.Errorf("seed dev config: %w", err)
		}
		d.Seeded = append(d.Seeded, "config.toml")
	} else if err != nil {
		return nil, fmt.Errorf("dev config: %w", err)
	}
	cfg, err := domains.Load(d.ConfigFile(), domains.LoadOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		if err := writeSelfSigned(certPath, keyPath, cfg.Hostname()); err != nil {
			return nil, err
		}
		d.Seeded = append(d.Seeded, "tls/cert.pem")
	}
	keys := dkimkey.NewStore(abs)
	for i, dom := range cfg.Domains {
		// A single-domain install's key (dkim/private.key) is the default
		// domain's: the upgrade moves it there (book/upgrade.md), so no
		// key is seeded in its way.
		if i == 0 {
			if _, err := os.Stat(filepath.Join(abs, "dkim", "private.key")); err == nil {
				continue
			}
		}
		if _, err := keys.Load(dom, dkimkey.RSA); errors.Is(err, dkimkey.ErrNoKey) {
			if _, err := keys.Generate(dom, dkimkey.RSA, false); err != nil {
				return nil, err
			}
			d.Seeded = append(d.Seeded, "dkim/"+dom)
		} else if err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(d.MCPTokenFile()); errors.Is(err, os.ErrNotExist) {
		if err := seedToken(d, owner); err != nil {
			return nil, err
		}
		d.Seeded = append(d.Seeded, "mcp-token")
	} else if err != nil {
		return nil, fmt.Errorf("dev token: %w", err)
	}
	return d, nil
}

// seedToken mints the developer's token and writes its secret to
// mcp-token. A crash between the two leaves an unused token in
// tokens.json and no mcp-token, so the next start mints another.
func seedToken(d *DevDir, owner string) error {
	st := &tokens.Store{Path: d.TokensFile()}
	_, secret, err := st.Create(tokens.New{Name: "dev mcp-token", Owner: owner, AllowHooks: true})
	if err != nil {
		return fmt.Errorf("dev token: %w", err)
	}
	var w storage.Writer
	if err := w.WriteFile(d.MCPTokenFile(), []byte(secret+"\n"), storage.WriteOptions{Mode: 0o600}); err != nil {
		return fmt.Errorf("write dev token: %w", err)
	}
	return nil
}

// writeSelfSigned makes the dev dir's STARTTLS certificate: ECDSA P-256,
// valid for the SMTP hostname, localhost and the loopback addresses.
func writeSelfSigned(certPath, keyPath, hostname string) error {
	return selfsigned.Write(certPath, keyPath, selfsigned.Spec{CommonName: hostname, Organization: "aimx dev mode",
		DNSNames: []string{hostname, "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore: time.Now().Add(-time.Hour), Years: 5})
}
