package inbound

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/mail/outcome"
)

// FuzzDeliver feeds arbitrary DATA to the Deliverer: it must never panic,
// and every answer is a 250 or a typed 5xx outcome (the store never fails
// here, so a 4xx would be a bug).
func FuzzDeliver(f *testing.F) {
	for _, dir := range []string{"mail", "dkim"} {
		paths, _ := filepath.Glob(filepath.Join(fixtures, dir, "*.eml"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(crlf(b))
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("Subject: a\r\n\r\nb\n.\nc\r\n"))
	f.Add([]byte("Authentication-Results: " + testHostname + "; dkim=pass\r\nFrom: a@b\r\n\r\nx\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := newDeliverEnv(t, envOpts{})
		out, err := e.del.Deliver(context.Background(), Envelope{
			RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "fuzz.example.org",
			Recipients: []string{"support@agent.example.com", "x@agent.example.com"}, ID: "f",
		}, raw)
		if err == nil {
			if out.Code != 250 || len(out.Mailboxes) != 2 {
				t.Fatalf("success without a 250 for both mailboxes: %+v", out)
			}
			return
		}
		oe, ok := outcome.As(err)
		if !ok {
			t.Fatalf("untyped error %v", err)
		}
		if !oe.Permanent() {
			t.Fatalf("a healthy store answered %s", oe.Reply())
		}
		if !errors.Is(err, oe) {
			t.Fatal("outcome not in the chain")
		}
	})
}

// FuzzGreetingSniff checks the HELO/EHLO sniffer against a simple
// reference on arbitrary byte streams split at arbitrary points.
func FuzzGreetingSniff(f *testing.F) {
	f.Add([]byte("EHLO a\r\n"), uint8(3))
	f.Add([]byte("NOOP\r\nhelo x\r\nEHLO y\r\n"), uint8(9))
	f.Add([]byte("EHLOx\r\nHELO y\r\n"), uint8(1))
	f.Add([]byte("\r\nehlo\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, split uint8) {
		c := &trackedConn{lineStart: true}
		cut := int(split) % (len(stream) + 1)
		c.sniff(stream[:cut])
		if !c.sniffDone {
			c.sniff(stream[cut:])
		}
		if want := referenceGreeting(stream); c.greet != want {
			t.Fatalf("sniff(%q) = %d, want %d", stream, c.greet, want)
		}
	})
}

// referenceGreeting is the first line that starts with "HELO " or "EHLO "
// (any case).
func referenceGreeting(stream []byte) int {
	start := 0
	for i := 0; i <= len(stream); i++ {
		if i < len(stream) && stream[i] != '\n' {
			continue
		}
		line := stream[start:i]
		start = i + 1
		if len(line) >= 5 && line[4] == ' ' {
			switch v := strings.ToUpper(string(line[:4])); {
			case v == "EHLO":
				return greetEHLO
			case v == "HELO":
				return greetHELO
			}
		}
	}
	return greetUnknown
}
