package selfsigned

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	now := time.Now().Truncate(time.Second)
	err := Write(cert, key, Spec{CommonName: "mx.example.com", DNSNames: []string{"mx.example.com", "localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Organization: "aimx", NotBefore: now, Years: 2})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.VerifyHostname("mx.example.com") != nil || c.VerifyHostname("127.0.0.1") != nil || !c.NotAfter.Equal(now.AddDate(2, 0, 0)) {
		t.Fatalf("certificate %v %v", c.DNSNames, c.NotAfter)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode())
	}
}
