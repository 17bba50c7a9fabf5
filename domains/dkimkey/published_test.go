package dkimkey

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
)

func TestCheckPublished(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	k, err := s.Import("a.test", readTestdata(t, "rsa-pkcs1.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Generate("b.test", RSA, false)
	if err != nil {
		t.Fatal(err)
	}
	_, ours, _ := TXTRecord("a.test", "aimx", k.Public())
	_, theirs, _ := TXTRecord("a.test", "aimx", other.Public())
	// A record split into 255-byte strings and reassembled by the
	// resolver, with spaces inside p=, still matches.
	spaced := ours[:40] + " " + ours[40:]
	for _, tc := range []struct {
		name string
		txt  []string
		err  error
		want Published
	}{
		{"match", []string{ours}, nil, PublishedMatch},
		{"match with spaces", []string{"unrelated", spaced}, nil, PublishedMatch},
		{"mismatch", []string{theirs}, nil, PublishedMismatch},
		{"nxdomain", nil, &net.DNSError{Err: "no such host", IsNotFound: true}, PublishedMissing},
		{"no dkim txt", []string{"v=spf1 -all"}, nil, PublishedMissing},
		{"resolver not found", nil, fmt.Errorf("lookup: %w", dnsresolver.ErrNotFound), PublishedMissing},
		{"servfail", nil, errors.New("server misbehaving"), PublishedUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked string
			lookup := func(_ context.Context, name string) ([]string, error) { asked = name; return tc.txt, tc.err }
			got, detail := CheckPublished(context.Background(), lookup, "a.test", "aimx", k.Public())
			if got != tc.want || asked != "aimx._domainkey.a.test" || detail == "" {
				t.Fatalf("%s (%s) asking %s, want %s", got, detail, asked, tc.want)
			}
		})
	}
}
