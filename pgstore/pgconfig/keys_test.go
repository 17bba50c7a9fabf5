package pgconfig_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/pgstore/pgconfig"
)

// signsLike reports whether set's RSA key signs what pub verifies.
func signsLike(t *testing.T, set *dkimkey.KeySet, pub crypto.PublicKey) bool {
	t.Helper()
	sum := sha256.Sum256([]byte("DKIM-Signature: v=1"))
	sig, err := set.RSA.Signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, sum[:], sig) == nil
}

// TestDomainAddedOnASignsOnB: a domain added through node A's domain
// operation is signable on node B with the key A generated (the one its
// DNS record publishes) by the time B serves it, and B keeps the key in
// its own key store.
func TestDomainAddedOnASignsOnB(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b")
	a, b := nodes[0], nodes[1]
	ops := &operations.Domains{Config: a.ch, Keys: a.keys, Ring: a.ring, Log: zerolog.Nop()}
	added, err := ops.Add(context.Background(), operations.AddDomain{Domain: "b.test"})
	if err != nil {
		t.Fatal(err)
	}
	if !added.KeyCreated {
		t.Fatal("no key created")
	}
	onA, err := a.keys.LoadSet("b.test")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "b.test live on b", func() bool { return slices.Contains(b.ch.Registry.Current().Domains, "b.test") })
	if b.keyless("b.test") {
		t.Error("b published a config naming b.test before it had its key")
	}
	set, err := b.ring.KeySet("b.test")
	if err != nil {
		t.Fatalf("b serves b.test without its key: %v", err)
	}
	if !signsLike(t, set, onA.RSA.Public()) {
		t.Fatal("b signs b.test with another key than a's")
	}
	onB, err := b.keys.LoadSet("b.test")
	if err != nil || !signsLike(t, onB, onA.RSA.Public()) {
		t.Fatalf("b's key store: %v", err)
	}
}

// TestKeyConflictDatabaseWins: a node whose own key file for a domain
// differs from the shared one signs with the shared one, reports the
// conflict, and leaves its file alone.
func TestKeyConflictDatabaseWins(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	var nodes []*node
	for i, name := range []string{"a", "b"} {
		n := newNode(t, dsn, name, localConfig(name, fmt.Sprintf("127.0.0.1:%d", 2600+i)))
		if _, err := n.keys.Generate("a.test", dkimkey.RSA, false); err != nil {
			t.Fatal(err)
		}
		n.start(t)
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	shared, err := a.keys.LoadSet("a.test")
	if err != nil {
		t.Fatal(err)
	}
	own, err := b.keys.LoadSet("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.init.Keys.Conflicts) != 0 || !slices.Equal(b.init.Keys.Conflicts, []string{"a.test"}) {
		t.Errorf("conflicts: a %v, b %v", a.init.Keys.Conflicts, b.init.Keys.Conflicts)
	}
	eventually(t, time.Second, "b signing with the shared key", func() bool {
		set, err := b.ring.KeySet("a.test")
		return err == nil && signsLike(t, set, shared.RSA.Public())
	})
	still, err := b.keys.LoadSet("a.test")
	if err != nil || !signsLike(t, still, own.RSA.Public()) {
		t.Fatalf("b's own key file was replaced: %v", err)
	}
}

// TestPutKeysRotates: a replaced key reaches every node's signer.
func TestPutKeysRotates(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b")
	gen := dkimkey.NewStore(t.TempDir())
	for round := range 2 {
		k, err := gen.Generate("a.test", dkimkey.RSA, true)
		if err != nil {
			t.Fatal(err)
		}
		set := &dkimkey.KeySet{Domain: "a.test", RSA: k}
		if round == 0 {
			ed, err := gen.Generate("a.test", dkimkey.Ed25519, true)
			if err != nil {
				t.Fatal(err)
			}
			set.Ed25519 = ed
		}
		if err := pgconfig.PutKeys(context.Background(), nodes[0].db, set); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			eventually(t, time.Second, fmt.Sprintf("round %d key on %s", round, n.name), func() bool {
				have, err := n.ring.KeySet("a.test")
				return err == nil && signsLike(t, have, k.Public()) && (have.Ed25519 != nil) == (set.Ed25519 != nil)
			})
		}
	}
	bad := []*dkimkey.KeySet{nil, {Domain: "a.test"}}
	k, err := gen.Load("a.test", dkimkey.RSA)
	if err != nil {
		t.Fatal(err)
	}
	bad = append(bad, &dkimkey.KeySet{Domain: "../x", RSA: k}, &dkimkey.KeySet{Domain: "A.TEST", RSA: k})
	for _, set := range bad {
		if err := pgconfig.PutKeys(context.Background(), nodes[0].db, set); err == nil {
			t.Errorf("PutKeys(%+v) accepted", set)
		}
	}
}

// TestSyncKeysDistrustsRows: a row naming no valid domain, or holding no
// key, is skipped and reported; the other rows sync; nothing is written
// outside the key dir.
func TestSyncKeysDistrustsRows(t *testing.T) {
	t.Parallel()
	nd := newNode(t, pgtest.DSN(t), "a", localConfig("a", ":25"))
	ctx := context.Background()
	gen := dkimkey.NewStore(t.TempDir())
	k, err := gen.Generate("c.test", dkimkey.RSA, false)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(k.PrivatePath)
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct{ domain, alg, pem string }{
		{"c.test", "rsa", string(good)},
		{"../evil", "rsa", string(good)},
		{"Upper.TEST", "rsa", string(good)},
		{"d.test", "rsa", "not a key"},
		{"e.test", "ed25519", string(good)}, // an RSA key in an Ed25519 row
	}
	for _, r := range rows {
		if _, err := nd.db.Pool.Exec(ctx, "INSERT INTO aimx.dkim_keys (domain, algorithm, private_pem, created_by) VALUES ($1, $2, $3, 'test')",
			r.domain, r.alg, r.pem); err != nil {
			t.Fatal(err)
		}
	}
	ring := dkimkey.NewKeyring()
	res, err := pgconfig.SyncKeys(ctx, nd.db, nd.keys, ring)
	if err == nil {
		t.Fatal("bad rows synced without an error")
	}
	for _, want := range []string{"../evil", "Upper.TEST", "d.test", "e.test"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if !slices.Equal(res.Written, []string{"c.test"}) || !slices.Equal(ring.Domains(), []string{"c.test"}) {
		t.Fatalf("written %v, ring %v; want c.test only", res.Written, ring.Domains())
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(nd.keys.Dir), "evil")); !os.IsNotExist(err) {
		t.Fatal("a key was written outside the key dir")
	}
	// A second sync changes nothing.
	res, _ = pgconfig.SyncKeys(ctx, nd.db, nd.keys, ring)
	if len(res.Written)+len(res.Published)+len(res.Conflicts) != 0 {
		t.Errorf("second sync: %+v", res)
	}
	// A node still starts over bad rows, and is told about them.
	init, err := nd.store.Init(ctx)
	if err != nil {
		t.Fatalf("Init over bad key rows: %v", err)
	}
	if init.KeysErr == nil || !strings.Contains(init.KeysErr.Error(), "../evil") {
		t.Errorf("Init's key error: %v", init.KeysErr)
	}
}
