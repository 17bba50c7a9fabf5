// Package selfsigned writes a self-signed TLS certificate and its key: the
// dev dir's STARTTLS pair (book/dev-mode.md) and the one `aimx setup`
// makes when the operator has none (book/install.md). Receivers accept a
// self-signed certificate for opportunistic STARTTLS (RFC 7435).
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// Spec is what the certificate says.
type Spec struct {
	// CommonName and DNSNames name the server; IPs are added as IP SANs.
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	// Organization, when set, is the subject's O.
	Organization string
	// NotBefore starts the validity; Years is how long it lasts.
	NotBefore time.Time
	Years     int
}

// Write makes an ECDSA P-256 key and a certificate for spec, and writes
// them durably: the key 0600 (PKCS#8), the certificate 0644.
func Write(certPath, keyPath string, spec Spec) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return fmt.Errorf("TLS serial: %w", err)
	}
	subject := pkix.Name{CommonName: spec.CommonName}
	if spec.Organization != "" {
		subject.Organization = []string{spec.Organization}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    spec.NotBefore,
		NotAfter:     spec.NotBefore.AddDate(spec.Years, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("self-sign TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode TLS key: %w", err)
	}
	var w storage.Writer
	if err := w.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), storage.WriteOptions{Mode: 0o600}); err != nil {
		return fmt.Errorf("write TLS key: %w", err)
	}
	if err := w.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), storage.WriteOptions{Mode: 0o644}); err != nil {
		return fmt.Errorf("write TLS certificate: %w", err)
	}
	return nil
}
