package inbound

import (
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

// storedLog records OnStored calls.
type storedLog struct {
	mu  sync.Mutex
	got []StoredMessage
}

func (s *storedLog) add(m StoredMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m)
}

func (s *storedLog) all() []StoredMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StoredMessage(nil), s.got...)
}

// TestM4_ForgedFirstDoesNotSuppressGenuine: a forgery that reuses a
// genuine message's Message-ID and arrives first no longer makes the
// genuine, DMARC-passing copy a duplicate: both are stored, and the
// genuine one's hook (OnStored) fires with trusted = "true".
func TestM4_ForgedFirstDoesNotSuppressGenuine(t *testing.T) {
	t.Parallel()
	stored := &storedLog{}
	e := verifyEnvOpts(t, envOpts{deliver: func(c *Config) { c.OnStored = stored.add }})
	genuine := readFixture(t, "dkim/rsa-signed.eml")
	m, err := message.Parse(genuine)
	if err != nil {
		t.Fatal(err)
	}
	forgery := []byte("From: Zoe <zoe@mail.example.net>\r\nTo: v1@agent.example.com\r\nSubject: new bank details\r\n" +
		"Date: Mon, 02 Nov 2026 09:41:05 +0000\r\nMessage-ID: <" + m.MessageID + ">\r\n\r\nPay this account instead.\r\n")
	rc := dialRaw(t, e.addr)
	rc.greet()
	if code, text := rc.sendRaw("bounce@relay.example.org", []string{"v1@agent.example.com"}, forgery); code != 250 {
		t.Fatalf("forgery: %d %s", code, text)
	}
	if code, text := rc.sendRaw("zoe@mail.example.net", []string{"v1@agent.example.com"}, genuine); code != 250 {
		t.Fatalf("genuine: %d %s", code, text)
	}
	if n := len(e.inbox("v1@agent.example.com")); n != 2 {
		t.Fatalf("v1 holds %d messages, want the forgery and the genuine one", n)
	}
	got := stored.all()
	if len(got) != 2 || got[1].Trusted != "true" {
		t.Fatalf("OnStored calls %+v, want two, the second trusted", got)
	}
	// A true re-delivery of the genuine message is still absorbed, here and
	// after a restart (a new Deliverer and Dedup over the same store).
	if code, text := rc.sendRaw("zoe@mail.example.net", []string{"v1@agent.example.com"}, genuine); code != 250 {
		t.Fatalf("re-delivery: %d %s", code, text)
	}
	if n := len(e.inbox("v1@agent.example.com")); n != 2 || len(stored.all()) != 2 {
		t.Fatalf("re-delivery stored again: %d messages, %d hooks", n, len(stored.all()))
	}
	v1 := e.reg.Current().Mailboxes["v1@agent.example.com"]
	restarted := newDeliverEnv(t, envOpts{dataDir: e.dataDir, dns: e.dns, mutate: func(c *domains.Config) {
		c.Mailboxes[v1.Name] = v1
	}})
	for _, raw := range [][]byte{genuine, forgery} {
		out, err := restarted.del.Deliver(context.Background(), Envelope{Recipients: []string{"v1@agent.example.com"}}, raw)
		if err != nil || !out.Mailboxes[0].Duplicate {
			t.Fatalf("after restart: %+v %v, want a duplicate", out.Mailboxes, err)
		}
	}
}

// TestM4_LegacyMailWithoutEMLKeepsTheOldKey: a stored message with no .eml
// (Rust-written) is recognised by its Message-ID alone, as before.
func TestM4_LegacyMailWithoutEMLKeepsTheOldKey(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	const name = "support@agent.example.com"
	ctx := context.Background()
	if err := e.store.EnsureMailbox(ctx, ref(name), nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.store.Put(ctx, storage.PutRequest{
		Mailbox: ref(name), Folder: storage.Inbox, At: time.Now(),
		Frontmatter: storage.Frontmatter{MessageID: "rust@example.org", ReceivedAt: time.Now().UTC().Truncate(time.Second)},
		Body:        "from the Rust aimx\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	out := deliverTo(t, e, simpleMessage("rust@example.org", "any", "x\r\n"), name)
	if !out.Mailboxes[0].Duplicate {
		t.Errorf("re-delivery of Rust-stored mail not absorbed: %+v", out.Mailboxes[0])
	}
}

// TestM1_FIFOInPlaceOfEMLDoesNotWedgeDedup: a FIFO where a stored .eml
// should be does not block building the index (nor a lookup by id): the
// message counts as having no key, and that is logged.
func TestM1_FIFOInPlaceOfEMLDoesNotWedgeDedup(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	const name = "support@agent.example.com"
	deliverTo(t, e, simpleMessage("", "no id", "x\r\n"), name)              // key recomputed at load
	deliverTo(t, e, simpleMessage("fifo@example.org", "id", "y\r\n"), name) // key recomputed on lookup
	ctx := context.Background()
	for _, s := range e.inbox(name) {
		eml := e.paths(name, s.ID).EML
		if err := os.Remove(eml); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(eml, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var log syncBuffer
	d := NewDedup(e.store, DedupOptions{Log: zerolog.New(&log)})
	done := make(chan error, 1)
	go func() {
		for _, raw := range [][]byte{simpleMessage("", "no id", "x\r\n"), simpleMessage("fifo@example.org", "id", "y\r\n")} {
			c, err := d.Claim(ctx, ref(name), message.DedupKey(raw), time.Hour)
			if err != nil {
				done <- err
				return
			}
			c.Release()
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dedup blocked on a FIFO")
	}
	if !strings.Contains(log.String(), "not readable") {
		t.Errorf("nothing logged:\n%s", log.String())
	}
}
