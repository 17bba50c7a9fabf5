package operations

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/mail/dsn"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

// testRing is one RSA key for a.test, generated once.
var testRing struct {
	once sync.Once
	ring *dkimkey.Keyring
	err  error
}

func keyring(t *testing.T) *dkimkey.Keyring {
	t.Helper()
	testRing.once.Do(func() {
		k, err := dkimkey.NewStore(t.TempDir()).Generate("a.test", dkimkey.RSA, false)
		testRing.err = err
		testRing.ring = dkimkey.NewKeyring()
		if err == nil {
			testRing.ring.Publish(&dkimkey.KeySet{Domain: "a.test", RSA: k})
		}
	})
	if testRing.err != nil {
		t.Fatal(testRing.err)
	}
	return testRing.ring
}

type sendEnv struct {
	sender  *Sender
	bounces *Bounces
	store   *storage.Store
	queue   *outbound.FileQueue
	reg     *domains.Registry
	after   []string // "id round status"
	local   [][]byte // DSNs handed to intake
}

func newSendEnv(t *testing.T) *sendEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.Open(filepath.Join(dir, "data"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := outbound.OpenFileQueue(filepath.Join(dir, "queue"), outbound.FileQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	cfg := testConfig()
	cfg.Domains = append(cfg.Domains, "keyless.test")
	cfg.Mailboxes["x@keyless.test"] = domains.Mailbox{Name: "x@keyless.test", Owner: "tester"}
	e := &sendEnv{store: st, queue: q, reg: domains.NewRegistry(cfg)}
	e.bounces = &Bounces{Registry: e.reg, Store: st, Queue: q, DeliverLocal: func(_ context.Context, from string, rcpts []string, data []byte) error {
		if from != "" || len(rcpts) != 1 || rcpts[0] != testMailbox {
			t.Errorf("DSN envelope from %q to %v", from, rcpts)
		}
		e.local = append(e.local, data)
		return nil
	}}
	e.sender = &Sender{Registry: e.reg, Store: st, Keys: keyring(t), Queue: q, Bounce: e.bounces.GaveUp,
		AfterSend: func(_ context.Context, mb, id string, round int, status string) error {
			e.after = append(e.after, strings.Join([]string{id, string(rune('0' + round)), status}, " "))
			return nil
		}}
	return e
}

func (e *sendEnv) mailbox(name string) domains.Mailbox {
	m, _ := e.reg.Current().Mailbox(name)
	return m
}

func TestSendStoresSentCopyAndQueues(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	res, err := e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: "Ann <ann@example.org>", Bcc: "bea@example.org",
		Subject: "Hello", Body: "Hi *Ann*", Wait: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeliveryStatus != "queued" || len(res.Recipients) != 2 || !strings.HasSuffix(res.MessageID, "@a.test") {
		t.Fatalf("result %+v", res)
	}
	items, err := e.queue.Due(ctx, time.Now().Add(time.Hour))
	if err != nil || len(items) != 1 || items[0].SentID != res.ID || items[0].Mailbox != testMailbox {
		t.Fatalf("queue %+v %v", items, err)
	}
	raw, err := e.store.OpenRaw(ctx, domains.MailboxRef(testMailbox), storage.Sent, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	data, _ := e.queue.Data(ctx, items[0].ID)
	var eml bytes.Buffer
	if _, err := eml.ReadFrom(raw.Reader()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(eml.Bytes(), data) {
		t.Fatal("the sent copy's .eml is not the signed bytes queued")
	}

	// A catchall cannot send; a domain without a key says how to make one.
	if _, err := e.sender.Send(ctx, SendRequest{From: e.mailbox("*@a.test"), To: "ann@example.org", Subject: "s", Body: "b", Wait: -1}); !errors.Is(err, ErrCatchall) {
		t.Fatalf("catchall: %v", err)
	}
	_, err = e.sender.Send(ctx, SendRequest{From: e.mailbox("x@keyless.test"), To: "ann@example.org", Subject: "s", Body: "b", Wait: -1})
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "aimx dkim-keygen --domain keyless.test") {
		t.Fatalf("keyless: %v", err)
	}
	if e.queue.Len() != 1 {
		t.Fatalf("refused sends were queued: %d", e.queue.Len())
	}
}

func TestSendWaitsForTheFirstRound(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	// The "worker": a round that delivers every recipient, run on wake.
	e.sender.Wake = func() {
		go func() {
			items, err := e.queue.Due(ctx, time.Now().Add(time.Hour))
			if err != nil || len(items) != 1 {
				t.Errorf("due: %v %v", items, err)
				return
			}
			var ups []outbound.Recipient
			for _, r := range items[0].Recipients {
				r.Status, r.Detail, r.Attempts = outbound.StatusDelivered, "250 ok", 1
				ups = append(ups, r)
			}
			it, err := e.queue.Record(ctx, items[0].ID, ups)
			if err != nil {
				t.Error(err)
				return
			}
			if err := e.sender.HandleRound(ctx, it, it.Rounds, []outbound.Recipient{}); err != nil {
				t.Error(err)
			}
		}()
	}
	start := time.Now()
	res, err := e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: "ann@example.org", Subject: "s", Body: "b", Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeliveryStatus != "delivered" || res.Recipients[0].Detail != "250 ok" || time.Since(start) > 30*time.Second {
		t.Fatalf("after %v: %+v", time.Since(start), res)
	}
	if len(e.after) != 1 || e.after[0] != res.ID+" 1 delivered" {
		t.Fatalf("after_send records %v", e.after)
	}
}

func TestHandleRoundAndBounces(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	res, err := e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: "ann@example.org, bob@example.net", Subject: "Plans", Body: "b", Wait: -1})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := e.queue.Due(ctx, time.Now().Add(time.Hour))
	now := time.Now().UTC()
	ups := []outbound.Recipient{
		{Address: "ann@example.org", Status: outbound.StatusDelivered, Detail: "250 2.0.0 ok", Code: 250, Attempts: 1, TLS: "verified", UpdatedAt: now},
		{Address: "bob@example.net", Status: outbound.StatusFailed, Detail: "550 5.1.1 no such user", Code: 550, Enhanced: [3]int{5, 1, 1}, Attempts: 1, TLS: "none", UpdatedAt: now},
	}
	it, err := e.queue.Record(ctx, items[0].ID, ups)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sender.HandleRound(ctx, it, it.Rounds, ups[1:]); err != nil {
		t.Fatal(err)
	}
	st, err := e.sender.Status(ctx, e.mailbox(testMailbox), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.DeliveryStatus != "failed" || st.Recipients[0].TLS != "verified" || st.Recipients[1].Detail != "550 5.1.1 no such user" {
		t.Fatalf("status %+v", st)
	}
	if len(e.local) != 1 {
		t.Fatalf("%d DSNs, want 1", len(e.local))
	}
	rep, err := dsn.Parse(bytes.NewReader(e.local[0]), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OriginalMessageID != res.MessageID || len(rep.Recipients) != 1 || rep.Recipients[0].FinalRecipient != "bob@example.net" ||
		rep.Recipients[0].Status != "5.1.1" || !strings.Contains(rep.Recipients[0].DiagnosticCode, "550 5.1.1 no such user") ||
		strings.Contains(rep.Recipients[0].DiagnosticCode, "550 550") {
		t.Fatalf("DSN %+v", rep)
	}
	// Handing the same round on again (a crash before the ack) builds the
	// same DSN: intake's dedup absorbs it.
	if err := e.sender.HandleRound(ctx, it, it.Rounds, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.local) != 2 || headerOf(e.local[0], "Message-Id") != headerOf(e.local[1], "Message-Id") {
		t.Fatalf("recovered DSN differs: %q vs %q", headerOf(e.local[0], "Message-Id"), headerOf(e.local[1], "Message-Id"))
	}

	// A remote bounce for ann, delivered earlier: stored in the inbox, it
	// turns ann failed; a later round saying delivered does not undo it.
	bounce, err := dsn.Build(dsn.BuildRequest{ReportingMTA: "mx.example.org", From: "MAILER-DAEMON@mx.example.org", To: testMailbox,
		MessageID: "b1@mx.example.org", Date: now, OriginalMessageID: res.MessageID, OriginalHeaders: []byte("Message-ID: <" + res.MessageID + ">\r\n"),
		ArrivalDate: now, Failures: []dsn.Failure{{Recipient: "ann@example.org", Code: 550, Status: [3]int{5, 2, 2}, Diagnostic: "mailbox full", LastAttempt: now}}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.store.Put(ctx, storage.PutRequest{Mailbox: domains.MailboxRef(testMailbox), Folder: storage.Inbox, Raw: bounce,
		Frontmatter: storage.Frontmatter{MessageID: "b1@mx.example.org", Subject: "bounce", To: []string{testMailbox}}, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	sentID, err := e.bounces.Report(ctx, testMailbox, in.ID)
	if err != nil || sentID != res.ID {
		t.Fatalf("report matched %q: %v", sentID, err)
	}
	st, _ = e.sender.Status(ctx, e.mailbox(testMailbox), res.ID)
	if st.Recipients[0].Status != "failed" || !strings.HasPrefix(st.Recipients[0].Detail, "bounced: ") || !strings.Contains(st.Recipients[0].Detail, "mailbox full") ||
		st.Recipients[1].Detail != "550 5.1.1 no such user" {
		t.Fatalf("after the bounce: %+v", st.Recipients)
	}
	if err := e.sender.HandleRound(ctx, it, it.Rounds, nil); err != nil {
		t.Fatal(err)
	}
	st, _ = e.sender.Status(ctx, e.mailbox(testMailbox), res.ID)
	if st.Recipients[0].Status != "failed" {
		t.Fatalf("a later round undid the bounce: %+v", st.Recipients[0])
	}

	// A report about mail we never sent matches nothing.
	other, _ := dsn.Build(dsn.BuildRequest{ReportingMTA: "mx.example.org", From: "MAILER-DAEMON@mx.example.org", To: testMailbox,
		MessageID: "b2@mx.example.org", Date: now, OriginalMessageID: "never@a.test", ArrivalDate: now,
		Failures: []dsn.Failure{{Recipient: "ann@example.org", Code: 550, Status: [3]int{5, 1, 1}, LastAttempt: now}}})
	in2, err := e.store.Put(ctx, storage.PutRequest{Mailbox: domains.MailboxRef(testMailbox), Folder: storage.Inbox, Raw: other,
		Frontmatter: storage.Frontmatter{MessageID: "b2@mx.example.org", To: []string{testMailbox}}, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bounces.Report(ctx, testMailbox, in2.ID); !errors.Is(err, ErrNoSentCopy) {
		t.Fatalf("foreign report: %v", err)
	}
}

func headerOf(msg []byte, name string) string {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	return headerValue(append(head, '\r', '\n'), name)
}

func TestWorstStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, "queued"},
		{[]string{"delivered"}, "delivered"},
		{[]string{"delivered", "queued"}, "queued"},
		{[]string{"queued", "deferred", "delivered"}, "deferred"},
		{[]string{"deferred", "failed", "delivered"}, "failed"},
	} {
		if got := WorstStatus(tc.in); got != tc.want {
			t.Errorf("WorstStatus(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	if got := oneLine("550-5.1.1 first\r\n550 5.1.1 second\x01\tend "); got != "550-5.1.1 first 550 5.1.1 second end" {
		t.Fatalf("%q", got)
	}
}

func TestIdempotentSends(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	idem, err := OpenFileIdempotency(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	e.sender.Idempotency = idem
	e.sender.Now = func() time.Time { return now }
	send := func(caller, key string) (*SendResult, error) {
		return e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: "ann@example.org", Subject: "once", Body: "b",
			Wait: -1, IdempotencyKey: key, Caller: caller})
	}
	// Ten calls at once with one key send once.
	var wg sync.WaitGroup
	results := make([]*SendResult, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := send("alice", "order-42")
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	replays := 0
	for _, r := range results {
		if r == nil || r.ID != results[0].ID {
			t.Fatalf("different sends for one key: %+v", results)
		}
		if r.Replayed {
			replays++
		}
	}
	if replays != 9 || e.queue.Len() != 1 {
		t.Fatalf("%d replays, %d queued", replays, e.queue.Len())
	}
	// Across a restart (a new store over the same dir) the key still holds.
	idem.Close()
	if e.sender.Idempotency, err = OpenFileIdempotency(dir); err != nil {
		t.Fatal(err)
	}
	if r, err := send("alice", "order-42"); err != nil || !r.Replayed || r.ID != results[0].ID {
		t.Fatalf("after restart: %+v %v", r, err)
	}
	// Another caller's key is another key.
	if r, err := send("bob", "order-42"); err != nil || r.Replayed {
		t.Fatalf("another caller: %+v %v", r, err)
	}
	// After the window, the key sends again.
	now = now.Add(IdempotencyWindow + time.Minute)
	if r, err := send("alice", "order-42"); err != nil || r.Replayed || r.ID == results[0].ID {
		t.Fatalf("after the window: %+v %v", r, err)
	}
	if e.queue.Len() != 3 {
		t.Fatalf("%d queued, want 3", e.queue.Len())
	}
	for _, bad := range []string{"   ", "a\nb", strings.Repeat("k", MaxIdempotencyKey+1)} {
		if _, err := send("alice", bad); !errors.Is(err, ErrBadIdempotencyKey) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
}

func TestPairLimit(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	e.sender.Now = func() time.Time { return now }
	e.sender.PairLimit = 3
	send := func(to string) error {
		_, err := e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: to, Subject: "s", Body: "b", Wait: -1, AutoSubmitted: "auto-replied"})
		return err
	}
	for i := range 3 {
		if err := send("Peer <peer@example.org>"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		now = now.Add(time.Minute)
	}
	err := send("PEER@example.org")
	var pe *PairLimitError
	if !errors.As(err, &pe) || pe.Recipient != "PEER@example.org" || !errors.Is(err, ErrPairLimit) {
		t.Fatalf("fourth send: %v", err)
	}
	if err := send("other@example.org"); err != nil {
		t.Fatalf("another recipient is not limited: %v", err)
	}
	now = now.Add(58 * time.Minute) // the first send leaves the window
	if err := send("peer@example.org"); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
	// The header says the send was automatic.
	items, _ := e.queue.Due(ctx, now.Add(time.Hour))
	data, _ := e.queue.Data(ctx, items[0].ID)
	if !bytes.Contains(data, []byte("\r\nAuto-Submitted: auto-replied\r\n")) {
		t.Fatal("no Auto-Submitted field")
	}
}

func TestSendPolicyRules(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	cfg := e.reg.Current().Clone()
	m := cfg.Mailboxes[testMailbox]
	m.Send = domains.SendPolicy{Allow: []string{"*@partner.example"}, QuotaHour: domains.Ptr(2)}
	cfg.Mailboxes[testMailbox] = m
	e.reg.Swap(cfg)
	send := func(to string) (*SendResult, error) {
		return e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: to, Subject: "s", Body: "b", Wait: -1})
	}
	var pe *PolicyError
	if _, err := send("ann@example.org"); !errors.As(err, &pe) || pe.Rule != "send_allow" || !strings.Contains(err.Error(), "ann@example.org") {
		t.Fatalf("not allowed: %v", err)
	}
	for range 2 {
		if _, err := send("bo@partner.example"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := send("bo@partner.example"); !errors.As(err, &pe) || pe.Rule != "send_quota_hour" || !errors.Is(err, ErrPolicy) {
		t.Fatalf("over the hourly quota: %v", err)
	}
	if e.queue.Len() != 2 {
		t.Fatalf("%d queued", e.queue.Len())
	}
}

func TestApprovalHoldsSendsAsDrafts(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	ctx := context.Background()
	cfg := e.reg.Current().Clone()
	cfg.Send.Approval = domains.Ptr(domains.ApprovalRequired)
	e.reg.Swap(cfg)
	woken := 0
	e.sender.Wake = func() { woken++ }
	drafts := &Drafts{Store: e.store, Queue: e.queue, Wake: func() { woken++ }}
	var ids []string
	for _, subj := range []string{"first", "second"} {
		res, err := e.sender.Send(ctx, SendRequest{From: e.mailbox(testMailbox), To: "ann@example.org", Subject: subj, Body: "b", Wait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if res.DeliveryStatus != StatusHeld || res.Recipients[0].Status != StatusHeld {
			t.Fatalf("held send: %+v", res)
		}
		ids = append(ids, res.ID)
	}
	if woken != 0 {
		t.Fatal("a held send woke the worker")
	}
	if due, _ := e.queue.Due(ctx, time.Now().Add(time.Hour)); len(due) != 0 {
		t.Fatal("a held send is due")
	}
	list, err := drafts.List(ctx, func(mb string) bool { return mb == testMailbox })
	if err != nil || len(list) != 2 || list[0].Subject != "first" || list[0].Recipients[0] != "ann@example.org" {
		t.Fatalf("drafts %+v %v", list, err)
	}
	if hidden, _ := drafts.List(ctx, func(string) bool { return false }); len(hidden) != 0 {
		t.Fatal("drafts of an invisible mailbox were listed")
	}
	if _, err := drafts.Approve(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := drafts.Reject(ctx, list[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := drafts.Approve(ctx, list[1].ID); !errors.Is(err, ErrNoDraft) {
		t.Fatalf("approve a rejected draft: %v", err)
	}
	if due, _ := e.queue.Due(ctx, time.Now().Add(time.Hour)); len(due) != 1 || due[0].SentID != ids[0] || woken != 1 {
		t.Fatalf("after approval: %+v (woken %d)", due, woken)
	}
	first, _ := e.sender.Status(ctx, e.mailbox(testMailbox), ids[0])
	second, _ := e.sender.Status(ctx, e.mailbox(testMailbox), ids[1])
	if first.DeliveryStatus != "queued" || second.DeliveryStatus != "failed" || !strings.Contains(second.Recipients[0].Detail, "rejected") {
		t.Fatalf("statuses: %+v / %+v", first, second)
	}
}

// lockingIdem is a FileIdempotency that also takes a cross-node lock,
// recording how it was used.
type lockingIdem struct {
	*FileIdempotency
	mu              sync.Mutex
	locks, unlocks  int
	held            bool
	heldDuringWrite bool
}

func (l *lockingIdem) Lock(_ context.Context, key string) (func(), error) {
	l.mu.Lock()
	l.locks++
	l.held = true
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.unlocks++
		l.held = false
		l.mu.Unlock()
	}, nil
}

func (l *lockingIdem) Put(ctx context.Context, key string, rec SentRecord) error {
	l.mu.Lock()
	l.heldDuringWrite = l.held
	l.mu.Unlock()
	return l.FileIdempotency.Put(ctx, key, rec)
}

// TestIdempotencySharedLock: an Idempotency shared by several nodes
// (IdempotencyLocker) is locked around a keyed send, and released.
func TestIdempotencySharedLock(t *testing.T) {
	t.Parallel()
	e := newSendEnv(t)
	fi, err := OpenFileIdempotency(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := &lockingIdem{FileIdempotency: fi}
	e.sender.Idempotency = l
	for range 2 {
		if _, err := e.sender.Send(context.Background(), SendRequest{From: e.mailbox(testMailbox), To: "ann@example.org",
			Subject: "once", Body: "b", Wait: -1, IdempotencyKey: "k1", Caller: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	if l.locks != 2 || l.unlocks != 2 || !l.heldDuringWrite {
		t.Fatalf("locks %d, unlocks %d, held while the record was written %v: want 2, 2, true", l.locks, l.unlocks, l.heldDuringWrite)
	}
	if _, err := e.sender.Send(context.Background(), SendRequest{From: e.mailbox(testMailbox), To: "ann@example.org",
		Subject: "no key", Body: "b", Wait: -1, Caller: "alice"}); err != nil {
		t.Fatal(err)
	}
	if l.locks != 2 {
		t.Fatalf("a send without a key took the lock")
	}
}
