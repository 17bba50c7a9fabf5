// Package tokenstest is the conformance suite of tokens.Backend: the file
// store and the shared database's (pgstore/pgtokens) both run it, so the
// admin door and the MCP transport see the same behaviour from either
// (book/scale-out.md).
package tokenstest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains/tokens"
)

// Run runs the suite; open returns a new, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) tokens.Backend) {
	t.Run("CreateReturnsSecretOnce", func(t *testing.T) { testCreate(t, open(t)) })
	t.Run("CreateRefuses", func(t *testing.T) { testRefuse(t, open(t)) })
	t.Run("Verify", func(t *testing.T) { testVerify(t, open(t)) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, open(t)) })
	t.Run("ListInCreationOrder", func(t *testing.T) { testList(t, open(t)) })
	t.Run("ConcurrentCreates", func(t *testing.T) { testConcurrent(t, open(t)) })
}

func testCreate(t *testing.T, s tokens.Backend) {
	before := time.Now().Add(-time.Second)
	tok, secret, err := s.Create(tokens.New{Name: "laptop", Owner: " alice ", Mailboxes: []string{"b@a.test", "a@a.test", "b@a.test"}, AllowHooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if !tokens.Plausible(secret) {
		t.Errorf("secret %q: want aimx_ and 43 base64url characters", secret)
	}
	if tok.Hash != "" || len(tok.ID) != tokens.IDLen || !strings.HasPrefix(tok.ID, "tok_") || tok.Owner != "alice" ||
		tok.Name != "laptop" || !tok.AllowHooks || strings.Join(tok.Mailboxes, ",") != "a@a.test,b@a.test" {
		t.Errorf("token %+v", tok)
	}
	if tok.CreatedAt.Location() != time.UTC || tok.CreatedAt.Before(before) || tok.CreatedAt.After(time.Now()) ||
		!tok.CreatedAt.Equal(tok.CreatedAt.Truncate(time.Second)) {
		t.Errorf("created_at %v: want now, in UTC, to the second", tok.CreatedAt)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if got := list[0]; got.ID != tok.ID || got.Hash != "" || got.Owner != "alice" || !got.CreatedAt.Equal(tok.CreatedAt) ||
		!slices.Equal(got.Mailboxes, tok.Mailboxes) || !got.AllowHooks || got.Name != "laptop" {
		t.Errorf("listed %+v, created %+v", got, tok)
	}
	_, again, err := s.Create(tokens.New{Owner: "alice"})
	if err != nil || again == secret {
		t.Errorf("a second create: %v (same secret: %v)", err, again == secret)
	}
}

func testRefuse(t *testing.T, s tokens.Backend) {
	for _, tc := range []struct {
		name string
		n    tokens.New
	}{
		{"no owner", tokens.New{}},
		{"blank owner", tokens.New{Owner: " \t"}},
		{"newline in name", tokens.New{Owner: "a", Name: "x\ny"}},
		{"NUL in name", tokens.New{Owner: "a", Name: "x\x00"}},
		{"long name", tokens.New{Owner: "a", Name: strings.Repeat("n", tokens.MaxNameLen+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.Create(tc.n); !errors.Is(err, tokens.ErrInvalid) {
				t.Errorf("Create(%+v) = %v, want ErrInvalid", tc.n, err)
			}
		})
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Errorf("refused creates left %d tokens (%v)", len(l), err)
	}
}

func testVerify(t *testing.T, s tokens.Backend) {
	tok, secret, err := s.Create(tokens.New{Owner: "alice", Mailboxes: []string{"x@a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := s.Create(tokens.New{Owner: "bob", AllowHooks: true})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Verify(secret)
	if !ok || got.ID != tok.ID || got.Owner != "alice" || got.Hash != "" || !slices.Equal(got.Mailboxes, []string{"x@a.test"}) || got.AllowHooks {
		t.Fatalf("Verify = %+v %v", got, ok)
	}
	got.Mailboxes[0] = "changed@a.test"
	if again, _ := s.Verify(secret); again.Mailboxes[0] != "x@a.test" {
		t.Error("Verify hands out the store's own mailbox slice")
	}
	if got, ok := s.Verify(other); !ok || got.Owner != "bob" || !got.AllowHooks || len(got.Mailboxes) != 0 {
		t.Errorf("Verify(other) = %+v %v", got, ok)
	}
	for _, bad := range []string{"", "aimx_", secret + "x", secret[:len(secret)-1], strings.TrimPrefix(secret, tokens.SecretPrefix),
		tokens.HashSecret(secret), strings.ToUpper(secret), "aimx_" + strings.Repeat("A", 43), tok.ID, strings.Repeat("x", 1<<16)} {
		if _, ok := s.Verify(bad); ok {
			t.Errorf("Verify(%.60q) accepted", bad)
		}
	}
}

func testRevoke(t *testing.T, s tokens.Backend) {
	tok, secret, err := s.Create(tokens.New{Name: "gone", Owner: "alice", Mailboxes: []string{"x@a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	keep, other, err := s.Create(tokens.New{Owner: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.Revoke(tok.ID)
	if err != nil || gone.ID != tok.ID || gone.Owner != "alice" || gone.Name != "gone" || gone.Hash != "" || !slices.Equal(gone.Mailboxes, tok.Mailboxes) {
		t.Fatalf("Revoke = %+v, %v", gone, err)
	}
	if _, ok := s.Verify(secret); ok {
		t.Error("a revoked token still verifies")
	}
	if got, ok := s.Verify(other); !ok || got.ID != keep.ID {
		t.Errorf("the other token: %+v %v", got, ok)
	}
	for _, id := range []string{tok.ID, "", "tok_000000000000", "tok_' OR 1=1 --", strings.Repeat("x", 1<<12)} {
		if _, err := s.Revoke(id); !errors.Is(err, tokens.ErrNotFound) {
			t.Errorf("Revoke(%.40q) = %v, want ErrNotFound", id, err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != keep.ID {
		t.Errorf("List after revoke = %+v, %v", list, err)
	}
}

func testList(t *testing.T, s tokens.Backend) {
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("empty store lists %+v, %v", l, err)
	}
	var ids []string
	for _, owner := range []string{"c", "a", "b", "a"} {
		tok, _, err := s.Create(tokens.New{Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tok := range list {
		got = append(got, tok.ID)
		if tok.Hash != "" {
			t.Errorf("List hands out a hash: %+v", tok)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("List order %v, want creation order %v", got, ids)
	}
}

func testConcurrent(t *testing.T, s tokens.Backend) {
	const n = 16
	secrets := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, sec, err := s.Create(tokens.New{Owner: "u"})
			if err != nil {
				t.Error(err)
			}
			secrets[i] = sec
		})
	}
	wg.Wait()
	list, err := s.List()
	if err != nil || len(list) != n {
		t.Fatalf("List has %d tokens (%v), want %d", len(list), err, n)
	}
	ids := map[string]bool{}
	for _, tok := range list {
		ids[tok.ID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct ids among %d tokens", len(ids), n)
	}
	for i, sec := range secrets {
		if _, ok := s.Verify(sec); !ok {
			t.Errorf("secret %d does not verify", i)
		}
	}
}
