package pgtokens

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/domains/tokens/tokenstest"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a node on dsn, closed when t ends.
func open(t *testing.T, dsn, node string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestConformance runs the tokens.Backend suite the file store runs.
func TestConformance(t *testing.T) {
	tokenstest.Run(t, func(t *testing.T) tokens.Backend {
		return New(open(t, pgtest.DSN(t), "a"), Options{})
	})
}

// TestRevokeOnOneNodeHoldsOnTheOther: a token minted on node A verifies
// on node B, and once A revokes it B refuses it within a second (at once,
// in fact: B looks every secret up).
func TestRevokeOnOneNodeHoldsOnTheOther(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := New(open(t, dsn, "a"), Options{}), New(open(t, dsn, "b"), Options{})
	tok, secret, err := a.Create(tokens.New{Owner: "alice", Mailboxes: []string{"x@a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Verify(secret); !ok || got.ID != tok.ID || got.Owner != "alice" {
		t.Fatalf("node B: Verify = %+v %v", got, ok)
	}
	if _, err := a.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if _, ok := b.Verify(secret); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node B still honours a token node A revoked a second ago")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l, err := b.List(); err != nil || len(l) != 0 {
		t.Errorf("node B lists %+v, %v", l, err)
	}
}

// TestStoresHashOnly: the table holds the secret's sha256, never the
// secret or any part of it.
func TestStoresHashOnly(t *testing.T) {
	db := open(t, pgtest.DSN(t), "a")
	s := New(db, Options{})
	_, secret, err := s.Create(tokens.New{Owner: "alice", Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	var row string
	if err := db.Pool.QueryRow(context.Background(), "SELECT t::text FROM aimx.tokens t").Scan(&row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, strings.TrimPrefix(secret, tokens.SecretPrefix)[:20]) {
		t.Fatalf("the row holds the secret: %s", row)
	}
	if !strings.Contains(row, tokens.HashSecret(secret)) {
		t.Errorf("the row lacks the hash: %s", row)
	}
}

// TestDatabaseGone: with the database unreachable, Verify is false and
// the management calls fail, within the timeout rather than hanging.
func TestDatabaseGone(t *testing.T) {
	db := open(t, pgtest.DSN(t), "a")
	s := New(db, Options{Timeout: 2 * time.Second})
	_, secret, err := s.Create(tokens.New{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	start := time.Now()
	if _, ok := s.Verify(secret); ok {
		t.Error("Verify accepted a secret it could not look up")
	}
	if _, err := s.List(); err == nil {
		t.Error("List without a database succeeded")
	}
	if _, _, err := s.Create(tokens.New{Owner: "bob"}); err == nil {
		t.Error("Create without a database succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the calls took %v", d)
	}
}
