package setup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/internal/selfsigned"
)

// selfSignedYears is how long a self-signed certificate setup makes is
// valid: receivers do not check it (opportunistic TLS, RFC 7435), so it
// should simply never expire under a running install.
const selfSignedYears = 10

// tlsStep chooses the STARTTLS pair (RFC 3207): the files given with
// --tls-cert and --tls-key, the pair the config already names, or a new
// self-signed one under <config>/tls/.
func (s *Setup) tlsStep(ctx context.Context, host, haveCert, haveKey string) (cert, key string, err error) {
	s.step("TLS certificate")
	cert, key = s.Opts.TLSCert, s.Opts.TLSKey
	if cert == "" && key == "" && haveCert != "" {
		s.linef("ok", "keeping %s", haveCert)
		return haveCert, haveKey, nil
	}
	if cert == "" && key == "" && s.prompt.interactive {
		ans, err := s.prompt.ask(ctx, "Certificate file (PEM) for "+host+", or \"self-signed\"", "self-signed", "--tls-cert")
		if err != nil {
			return "", "", err
		}
		if ans != "self-signed" {
			cert = ans
			if key, err = s.prompt.ask(ctx, "Its private key file (PEM)", "", "--tls-key"); err != nil {
				return "", "", err
			}
		}
	}
	if (cert == "") != (key == "") {
		return "", "", errors.New("give both --tls-cert and --tls-key, or neither for a self-signed certificate")
	}
	if cert != "" {
		if cert, err = filepath.Abs(cert); err != nil {
			return "", "", fmt.Errorf("TLS certificate: %w", err)
		}
		if key, err = filepath.Abs(key); err != nil {
			return "", "", fmt.Errorf("TLS key: %w", err)
		}
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return "", "", fmt.Errorf("TLS pair %s and %s does not load: %w", cert, key, err)
		}
		s.linef("ok", "using %s", cert)
		return cert, key, nil
	}
	cert, key = filepath.Join(s.Opts.Paths.ConfigDir, "tls", "cert.pem"), filepath.Join(s.Opts.Paths.ConfigDir, "tls", "key.pem")
	if _, err := tls.LoadX509KeyPair(cert, key); err == nil {
		s.linef("ok", "keeping the self-signed %s", cert)
		return cert, key, nil
	}
	if err := WriteSelfSigned(cert, key, host, s.now()); err != nil {
		return "", "", err
	}
	s.linef("ok", "made a self-signed certificate for %s: %s (receivers accept it for STARTTLS; replace it with a CA-signed one any time)", host, cert)
	return cert, key, nil
}

// WriteSelfSigned writes a self-signed ECDSA P-256 certificate for host
// (cert 0644, key 0600, both durable), valid from an hour before now for
// ten years. The directory is made 0755 when missing.
func WriteSelfSigned(certPath, keyPath, host string, now time.Time) error {
	dir, err := safefs.MkdirAll(filepath.Dir(certPath), 0o755)
	if err != nil {
		return fmt.Errorf("TLS dir: %w", err)
	}
	dir.Close()
	return selfsigned.Write(certPath, keyPath, selfsigned.Spec{CommonName: host, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), Years: selfSignedYears})
}
