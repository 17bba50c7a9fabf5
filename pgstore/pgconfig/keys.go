package pgconfig

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/pgstore"
)

// maxKeyRows bounds one read of aimx.dkim_keys: two keys per domain of a
// config far larger than any real one.
const maxKeyRows = 100000

// publishKeys makes sure every domain of now has its keys in
// aimx.dkim_keys: for a domain with no RSA key there, it inserts the keys
// this node's key store has for it, or generates them when it has none
// (under the config lock, so one node generates), and returns the domains
// it generated keys for. A local key that does not load is left out: the
// node's own key loading reports it.
func (s *Store) publishKeys(ctx context.Context, tx pgx.Tx, now []string) (generated []string, err error) {
	if s.keys == nil || len(now) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, "SELECT domain FROM aimx.dkim_keys WHERE algorithm = 'rsa' AND domain = ANY($1)", now)
	if err != nil {
		return nil, fmt.Errorf("read DKIM keys: %w", err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read DKIM keys: %w", err)
	}
	for _, d := range now {
		if slices.Contains(have, d) {
			continue
		}
		set, err := s.keys.LoadSet(d)
		if errors.Is(err, dkimkey.ErrNoKey) {
			k, gerr := s.keys.Generate(d, dkimkey.RSA, false)
			if gerr != nil {
				return nil, fmt.Errorf("DKIM key of %s: %w", d, gerr)
			}
			set, err = &dkimkey.KeySet{Domain: d, RSA: k}, nil
			generated = append(generated, d)
		}
		if err != nil {
			continue
		}
		if err := insertKeys(ctx, tx, s.db.Node, set, false); err != nil {
			return nil, err
		}
	}
	return generated, nil
}

// insertKeys writes a key set's keys; replace overwrites existing rows,
// else they are kept.
func insertKeys(ctx context.Context, tx pgx.Tx, node string, set *dkimkey.KeySet, replace bool) error {
	conflict := "DO NOTHING"
	if replace {
		conflict = "DO UPDATE SET private_pem = excluded.private_pem, created_at = excluded.created_at, created_by = excluded.created_by"
	}
	for _, k := range []*dkimkey.Key{set.RSA, set.Ed25519} {
		if k == nil {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
		if err != nil {
			return fmt.Errorf("encode %s DKIM key of %s: %w", k.Algorithm, set.Domain, err)
		}
		privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if _, err := tx.Exec(ctx, `INSERT INTO aimx.dkim_keys (domain, algorithm, private_pem, created_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (domain, algorithm) `+conflict, set.Domain, string(k.Algorithm), string(privPEM), node); err != nil {
			return fmt.Errorf("store %s DKIM key of %s: %w", k.Algorithm, set.Domain, err)
		}
	}
	return nil
}

// PutKeys stores a domain's key set in the database, replacing the keys it
// had there (a rotation with `aimx dkim-keygen --force`), and tells every
// node, whose Watcher then signs with it. set.RSA is required.
func PutKeys(ctx context.Context, db *pgstore.DB, set *dkimkey.KeySet) error {
	if set == nil || set.RSA == nil {
		return errors.New("put DKIM keys: no RSA key")
	}
	if d, err := domains.NormalizeDomain(set.Domain); err != nil || d != set.Domain {
		return fmt.Errorf("put DKIM keys: invalid domain %q", set.Domain)
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if err := insertKeys(ctx, tx, db.Node, set, true); err != nil {
			return err
		}
		if set.Ed25519 == nil {
			if _, err := tx.Exec(ctx, "DELETE FROM aimx.dkim_keys WHERE domain = $1 AND algorithm = 'ed25519'", set.Domain); err != nil {
				return fmt.Errorf("drop the Ed25519 key of %s: %w", set.Domain, err)
			}
		}
		return pgstore.NotifyTx(ctx, tx, Channel, "keys")
	})
	if err != nil {
		return fmt.Errorf("put DKIM keys of %s: %w", set.Domain, err)
	}
	return nil
}

// SyncResult is what SyncKeys did, by domain (sorted).
type SyncResult struct {
	// Written are the domains whose keys were written to the local key
	// store, which had none.
	Written []string
	// Published are the domains whose keys were published to the keyring
	// (new there, or replacing another key).
	Published []string
	// Conflicts are the domains whose local key file holds another key
	// than the database: the database's key is the one the keyring signs
	// with; the file is left for the operator.
	Conflicts []string
}

// SyncKeys brings this node's keys in line with aimx.dkim_keys: a key the
// local key store lacks is written to it (nil: no files), and every
// domain's keys are published to ring (nil: none) unless it holds them
// already. A row that does not parse, or names no valid domain, is
// skipped and reported in the error with the other failures; the rest is
// synced anyway.
func SyncKeys(ctx context.Context, db *pgstore.DB, keys *dkimkey.Store, ring *dkimkey.Keyring) (SyncResult, error) {
	var res SyncResult
	rows, err := db.Pool.Query(ctx, "SELECT domain, algorithm, private_pem FROM aimx.dkim_keys ORDER BY domain, algorithm LIMIT $1", maxKeyRows)
	if err != nil {
		return res, fmt.Errorf("sync DKIM keys: %w", err)
	}
	type row struct{ domain, alg, pem string }
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.domain, &x.alg, &x.pem)
		return x, err
	})
	if err != nil {
		return res, fmt.Errorf("sync DKIM keys: %w", err)
	}
	var errs []error
	sets := map[string]*dkimkey.KeySet{}
	var order []string
	for _, x := range all {
		if d, err := domains.NormalizeDomain(x.domain); err != nil || d != x.domain {
			errs = append(errs, fmt.Errorf("DKIM key row names an invalid domain %q", x.domain))
			continue
		}
		signer, err := dkimkey.ParsePrivateKey([]byte(x.pem))
		if err != nil {
			errs = append(errs, fmt.Errorf("DKIM key of %s: %w", x.domain, err))
			continue
		}
		alg := dkimkey.Algorithm(x.alg)
		if got := algorithmOf(signer); got != alg {
			errs = append(errs, fmt.Errorf("DKIM key of %s: row says %s, key is %s", x.domain, alg, got))
			continue
		}
		set := sets[x.domain]
		if set == nil {
			set = &dkimkey.KeySet{Domain: x.domain}
			sets[x.domain] = set
			order = append(order, x.domain)
		}
		k := &dkimkey.Key{Algorithm: alg, Signer: signer}
		if keys != nil {
			k.PrivatePath, k.PublicPath = keys.KeyPaths(x.domain, alg)
		}
		if alg == dkimkey.Ed25519 {
			set.Ed25519 = k
		} else {
			set.RSA = k
		}
		if keys == nil {
			continue
		}
		switch onDisk, err := keys.Load(x.domain, alg); {
		case errors.Is(err, dkimkey.ErrNoKey):
			if _, err := keys.Import(x.domain, []byte(x.pem)); err != nil {
				errs = append(errs, err)
			} else if !slices.Contains(res.Written, x.domain) {
				res.Written = append(res.Written, x.domain)
			}
		case err != nil:
			errs = append(errs, err)
		case !samePublic(onDisk.Public(), signer.Public()) && !slices.Contains(res.Conflicts, x.domain):
			res.Conflicts = append(res.Conflicts, x.domain)
		}
	}
	for _, d := range order {
		set := sets[d]
		if ring == nil || set.RSA == nil {
			continue
		}
		if have, err := ring.KeySet(d); err == nil && sameKey(have.RSA, set.RSA) && sameKey(have.Ed25519, set.Ed25519) {
			continue
		}
		ring.Publish(set)
		res.Published = append(res.Published, d)
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("sync DKIM keys: %w", err)
	}
	return res, nil
}

func algorithmOf(s crypto.Signer) dkimkey.Algorithm {
	if _, ok := s.(ed25519.PrivateKey); ok {
		return dkimkey.Ed25519
	}
	return dkimkey.RSA
}

// sameKey reports whether two optional keys are the same key.
func sameKey(a, b *dkimkey.Key) bool {
	if a == nil || b == nil {
		return a == b
	}
	return samePublic(a.Public(), b.Public())
}

func samePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
