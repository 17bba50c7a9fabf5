package dkimkey

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Keyring holds the loaded key sets of the running daemon, one per domain,
// so a send never reads key files (book/sending.md, "Signing"). Domains
// are added with Publish before the config naming them goes live, and
// dropped with Forget after it stops naming them. It is safe for
// concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	sets map[string]*KeySet
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{sets: map[string]*KeySet{}} }

// LoadKeyring loads the key set of every domain from store. A domain
// without an RSA key is left out and named in missing (the daemon still
// starts and warns, book/sending.md); any other failure (an unreadable or
// malformed key) is an error.
func LoadKeyring(store *Store, domains []string) (ring *Keyring, missing []string, err error) {
	ring = NewKeyring()
	for _, d := range domains {
		set, err := store.LoadSet(d)
		if errors.Is(err, ErrNoKey) {
			missing = append(missing, d)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load DKIM keys: %w", err)
		}
		ring.Publish(set)
	}
	return ring, missing, nil
}

// Refresh loads the keys of every domain in domains that has none loaded
// yet (a key made with `aimx dkim-keygen` while the daemon runs), and
// returns the domains that still have none. A key that fails to load is
// reported in missing too, with the error.
func (r *Keyring) Refresh(store *Store, domains []string) (missing []string, err error) {
	var errs []error
	for _, d := range domains {
		if _, ok := r.get(d); ok {
			continue
		}
		set, lerr := store.LoadSet(d)
		if lerr != nil {
			missing = append(missing, d)
			if !errors.Is(lerr, ErrNoKey) {
				errs = append(errs, lerr)
			}
			continue
		}
		r.Publish(set)
	}
	return missing, errors.Join(errs...)
}

func (r *Keyring) get(domain string) (*KeySet, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set, ok := r.sets[domain]
	return set, ok
}

// Publish makes set the domain's keys, replacing any it had.
func (r *Keyring) Publish(set *KeySet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets[set.Domain] = set
}

// Forget drops a domain's keys.
func (r *Keyring) Forget(domain string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sets, domain)
}

// KeySet returns a domain's keys, or an error wrapping ErrNoKey that names
// the command creating them.
func (r *Keyring) KeySet(domain string) (*KeySet, error) {
	set, ok := r.get(domain)
	if !ok {
		return nil, fmt.Errorf("domain %s has no DKIM key; create one with aimx dkim-keygen --domain %s: %w", domain, domain, ErrNoKey)
	}
	return set, nil
}

// Domains lists the domains with keys, sorted.
func (r *Keyring) Domains() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.sets))
	for d := range r.sets {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// IsMissing reports whether domain has no RSA private key file at all (as
// opposed to one that does not load).
func IsMissing(store *Store, domain string) bool {
	_, err := store.Load(domain, RSA)
	return errors.Is(err, ErrNoKey)
}
