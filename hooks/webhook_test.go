package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// The test vector the Standard Webhooks project publishes with its
// libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = "1614265330"
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// verifyStandardWebhook checks a delivery as a receiver would, written
// from the Standard Webhooks spec ("Verifying signatures") and not with
// the signer under test: the three headers present, the timestamp within
// five minutes of now, and one space-delimited `v1,` entry equal, in
// constant time, to the base64 HMAC-SHA256 of `id.timestamp.body` keyed
// with the base64 after `whsec_`.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("a webhook header is missing")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not an integer")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("webhook-timestamp is outside the tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// The verifier and the signer both reproduce the published vector.
func TestWebhookSignatureVector(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", vectorTimestamp)
	h.Set("webhook-signature", "v1a,ignored "+vectorSignature)
	at := time.Unix(1614265330, 0)
	if err := verifyStandardWebhook(vectorSecret, h, []byte(vectorBody), at); err != nil {
		t.Fatalf("the test's verifier rejects the published vector: %v", err)
	}
	if err := verifyStandardWebhook(vectorSecret, h, []byte(vectorBody+" "), at); err == nil {
		t.Fatal("the test's verifier accepts a changed body")
	}
	key, err := domains.WebhookKey(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := signWebhook(key, vectorID, 1614265330, []byte(vectorBody)); got != vectorSignature {
		t.Fatalf("signature %s, want %s", got, vectorSignature)
	}
}

// delivery is one request the receiver got.
type delivery struct {
	header  http.Header
	body    []byte
	payload webhookPayload
	verify  error
}

// receiver is a loopback webhook endpoint answering statuses in order
// (the last repeats; none means 200) and checking every signature with
// the independent verifier.
type receiver struct {
	srv      *httptest.Server
	secret   string
	mu       sync.Mutex
	statuses []int
	got      []delivery
	ch       chan delivery
}

func newReceiver(t *testing.T, secret string, statuses ...int) *receiver {
	r := &receiver{secret: secret, statuses: statuses, ch: make(chan delivery, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{header: req.Header.Clone(), body: body, verify: verifyStandardWebhook(r.secret, req.Header, body, time.Now())}
		if req.Method != http.MethodPost || req.URL.Path != "/in" || req.URL.Query().Get("token") != "t" {
			d.verify = errors.New("not a POST to /in?token=t")
		}
		if err := json.Unmarshal(body, &d.payload); err != nil && d.verify == nil {
			d.verify = err
		}
		r.mu.Lock()
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status = r.statuses[0]
			if len(r.statuses) > 1 {
				r.statuses = r.statuses[1:]
			}
		}
		r.got = append(r.got, d)
		r.mu.Unlock()
		if status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20))) // larger than what is read
		r.ch <- d
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/in?token=t" }

func (r *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-r.ch:
		if d.verify != nil {
			t.Fatalf("delivery does not verify: %v", d.verify)
		}
		return d
	case <-time.After(20 * time.Second): // backstop only
		t.Fatal("no webhook delivery")
		return delivery{}
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

const testWebhookSecret = "whsec_dGhpcy1pcy1hLXRlc3Qtc2VjcmV0LW9mLTMyLWJ5dGU="

// webhookEnv is a scheduler whose mailbox has the webhook w, with loopback
// allowed (over plain http) unless private is false.
func webhookEnv(t *testing.T, private bool, w domains.Webhook) *schedEnv {
	t.Helper()
	cfg := testConfig()
	mb := cfg.Mailboxes[testMailbox]
	mb.Webhooks = []domains.Webhook{w}
	cfg.Mailboxes[testMailbox] = mb
	cfg.Hooks.WebhookAllowPrivate = private
	cfg.Hooks.WebhookHTTPHosts = []string{"127.0.0.1", "localhost"}
	if !private {
		// Built in code, past validation, as a config whose name now
		// resolves to loopback would be.
		e := newSchedEnv(t, testConfig(), "")
		e.reg.Swap(cfg)
		return e
	}
	e := newSchedEnv(t, cfg, "")
	e.opts.WebhookRetries = []time.Duration{10 * time.Millisecond}
	return e
}

func TestWebhookSignedDelivery(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret)
	e := webhookEnv(t, true, domains.Webhook{Name: "crm", URL: rcv.url(), Events: []domains.Event{domains.EventOnReceive},
		Secret: testWebhookSecret, FireOnUntrusted: true, IncludeBody: true})
	s := e.start()
	mb, _ := e.reg.Current().Mailbox(testMailbox)
	due := s.Due(mb, "none")
	if len(due) != 1 || due[0] != "webhook:crm" {
		t.Fatalf("due %v, want [webhook:crm]", due)
	}
	st := e.put("hello <world>", time.Now(), due...)
	s.Enqueue(received(st))
	d := rcv.next(t)
	jid := JobID(EventOnReceive, testMailbox, st.ID, "webhook:crm", 0)
	if d.header.Get("webhook-id") != jid || d.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", d.header)
	}
	p := d.payload
	if p.Type != "email.received" || p.Data.Webhook != "crm" || p.Data.Mailbox != testMailbox || p.Data.ID != st.ID ||
		p.Data.Subject != "hello <world>" || p.Data.MessageID != "hello <world>@x.test" || p.Data.Trusted != "true" ||
		p.Data.Folder != "inbox" || len(p.Data.To) != 1 || p.Data.Body == nil || *p.Data.Body != "body of hello <world>\n" {
		t.Errorf("payload %s", d.body)
	}
	if _, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", p.Timestamp, err)
	}
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeDelivered || js.Attempts != 1 || js.Status != 200 {
		t.Errorf("job %+v", js)
	}
	// Once per message: the same job offered again sends nothing.
	s.Enqueue(received(st))
	e.stop()
	if n := rcv.count(); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	if logs := e.log.String(); !strings.Contains(logs, `"webhook delivered"`) || strings.Contains(logs, testWebhookSecret) ||
		strings.Contains(logs, "token=t") {
		t.Errorf("log lines: %s", logs)
	}
}

// A 500 is retried with the same webhook-id, signed again, until a 2xx;
// a redirect is a failure and is not followed.
func TestWebhookRetryAfter500(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret, 500, http.StatusFound, 200)
	e := webhookEnv(t, true, domains.Webhook{Name: "crm", URL: rcv.url(), Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret})
	s := e.start()
	st := e.put("retry", time.Now(), "webhook:crm")
	s.Enqueue(received(st))
	first, second, third := rcv.next(t), rcv.next(t), rcv.next(t)
	if first.header.Get("webhook-id") != second.header.Get("webhook-id") || second.header.Get("webhook-id") != third.header.Get("webhook-id") {
		t.Error("the webhook-id changed between tries")
	}
	if string(first.body) != string(third.body) {
		t.Error("the payload changed between tries")
	}
	jid := JobID(EventOnReceive, testMailbox, st.ID, "webhook:crm", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeDelivered || js.Attempts != 3 || js.FirstAttemptAt.IsZero() {
		t.Errorf("job %+v", js)
	}
	e.stop()
	if n := rcv.count(); n != 3 {
		t.Errorf("%d requests, want 3 (the redirect is not followed)", n)
	}
	if n := strings.Count(e.log.String(), `"webhook delivery failed; retrying later"`); n != 2 {
		t.Errorf("%d retry lines, want 2", n)
	}
}

// A delivery that keeps failing is given up once the give-up time after
// its first try has passed, with one error line; the last try is made at
// that time.
func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret, 503)
	e := webhookEnv(t, true, domains.Webhook{Name: "crm", URL: rcv.url(), Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret})
	e.opts.WebhookRetries = []time.Duration{20 * time.Millisecond, time.Hour}
	e.opts.WebhookGiveUp = 300 * time.Millisecond
	s := e.start()
	st := e.put("never", time.Now(), "webhook:crm")
	s.Enqueue(received(st))
	jid := JobID(EventOnReceive, testMailbox, st.ID, "webhook:crm", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	js := e.job(jid)
	if js.Outcome != OutcomeAbandoned || js.Reason != reasonGaveUp || js.Attempts != 3 || js.Status != 503 {
		t.Errorf("job %+v, want abandoned after 3 tries (the last at the give-up time)", js)
	}
	if js.UpdatedAt.Sub(js.FirstAttemptAt) < 300*time.Millisecond {
		t.Errorf("given up %v after the first try", js.UpdatedAt.Sub(js.FirstAttemptAt))
	}
	waitFor(t, func() bool { return strings.Contains(e.log.String(), `"webhook delivery failed for a day; given up"`) })
	e.stop()
	if n := strings.Count(e.log.String(), `"webhook delivery failed for a day; given up"`); n != 1 || rcv.count() != 3 {
		t.Errorf("%d give-up lines, %d requests; want 1 and 3:\n%s", n, rcv.count(), e.log.String())
	}
}

// With webhook_allow_private off, a URL whose host is (or resolves to)
// loopback is refused when the connection is made, so a name rebound to
// 127.0.0.1 reaches nothing; turning the setting on applies at once.
func TestWebhookPrivateAddressRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret)
	byName := strings.Replace(rcv.url(), "127.0.0.1", "localhost", 1)
	e := webhookEnv(t, false, domains.Webhook{Name: "crm", URL: byName, Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret})
	if err := e.reg.Current().Validate(); err == nil || !strings.Contains(err.Error(), "webhook_allow_private") {
		t.Fatalf("validation lets the loopback URL through: %v", err)
	}
	e.opts.WebhookRetries = []time.Duration{10 * time.Millisecond}
	e.opts.WebhookGiveUp = 50 * time.Millisecond
	s := e.start()
	st := e.put("private", time.Now(), "webhook:crm")
	s.Enqueue(received(st))
	jid := JobID(EventOnReceive, testMailbox, st.ID, "webhook:crm", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeAbandoned || js.Status != 0 {
		t.Errorf("job %+v", js)
	}
	if n := rcv.count(); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
	waitFor(t, func() bool { return strings.Contains(e.log.String(), "given up") })
	if !strings.Contains(e.log.String(), "webhooks may not reach loopback") {
		t.Errorf("the refusal is not logged: %s", e.log.String())
	}
	cfg := e.reg.Current().Clone()
	cfg.Hooks.WebhookAllowPrivate = true
	e.reg.Swap(cfg)
	st2 := e.put("allowed", time.Now(), "webhook:crm")
	s.Enqueue(received(st2))
	if d := rcv.next(t); d.payload.Data.ID != st2.ID {
		t.Errorf("delivered %s", d.body)
	}
}

// after_send webhooks get one delivery per round, with its status.
func TestWebhookAfterSend(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret)
	e := webhookEnv(t, true, domains.Webhook{Name: "sent", URL: rcv.url(), Events: []domains.Event{domains.EventAfterSend}, Secret: testWebhookSecret})
	s := e.start()
	req := storageSentRequest()
	req.Frontmatter.Recipients = []storage.Recipient{{Address: "bob@x.test", Status: "delivered"}}
	st, err := e.store.Put(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := e.reg.Current().Mailbox(testMailbox)
	if due := s.Due(mb, "true"); len(due) != 0 {
		t.Fatalf("an after_send webhook is due on receipt: %v", due)
	}
	for range 2 { // recording a round twice delivers once
		if err := s.RecordAfterSend(context.Background(), AfterSend{Mailbox: testMailbox, ID: st.ID, Round: 1, Status: "delivered"}); err != nil {
			t.Fatal(err)
		}
	}
	d := rcv.next(t)
	p := d.payload.Data
	if d.payload.Type != "email.sent" || p.Folder != "sent" || p.DeliveryStatus != "delivered" || p.Round != 1 ||
		len(p.Recipients) != 1 || p.Recipients[0].Status != "delivered" || p.Body != nil {
		t.Errorf("payload %s", d.body)
	}
	jid := JobID(EventAfterSend, testMailbox, st.ID, "webhook:sent", 1)
	waitFor(t, func() bool { return e.job(jid).Done })
	waitFor(t, func() bool { recs, _ := e.state().AfterSend(context.Background()); return len(recs) == 0 })
	e.stop()
	if n := rcv.count(); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

// A delivery that failed before a stop is retried after the next start,
// at its recorded next-try time, and its first-try time is kept.
func TestWebhookRetrySurvivesRestart(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret, 500, 200)
	e := webhookEnv(t, true, domains.Webhook{Name: "crm", URL: rcv.url(), Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret})
	e.opts.WebhookRetries = []time.Duration{300 * time.Millisecond}
	s := e.start()
	st := e.put("restart", time.Now(), "webhook:crm")
	s.Enqueue(received(st))
	rcv.next(t)
	jid := JobID(EventOnReceive, testMailbox, st.ID, "webhook:crm", 0)
	waitFor(t, func() bool { return e.job(jid).Attempts == 1 })
	first := e.job(jid)
	e.stop()
	e.start()
	rcv.next(t)
	waitFor(t, func() bool { return e.job(jid).Done })
	js := e.job(jid)
	if js.Attempts != 2 || !js.FirstAttemptAt.Equal(first.FirstAttemptAt) || js.UpdatedAt.Before(first.NextAttemptAt) {
		t.Errorf("after restart %+v (before %+v)", js, first)
	}
}

// A deleted webhook is not delivered for mail stored before: its job is
// skipped when its turn comes.
func TestWebhookDeletedIsSkipped(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testWebhookSecret)
	e := webhookEnv(t, true, domains.Webhook{Name: "crm", URL: rcv.url(), Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret})
	s := e.start()
	st := e.put("gone", time.Now(), "webhook:crm")
	cfg := e.reg.Current().Clone()
	mb := cfg.Mailboxes[testMailbox]
	mb.Webhooks = nil
	cfg.Mailboxes[testMailbox] = mb
	e.reg.Swap(cfg)
	s.Enqueue(received(st))
	jid := JobID(EventOnReceive, testMailbox, st.ID, "webhook:crm", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeSkipped || js.Reason != reasonWebhookGone || rcv.count() != 0 {
		t.Errorf("job %+v, %d deliveries", js, rcv.count())
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "120": 2 * time.Minute, "-3": 0, "soon": 0, "999999999": 24 * time.Hour,
		now.Add(time.Hour).Format(http.TimeFormat): time.Hour,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// The trust gate applies to on_receive webhooks as to hooks, after the
// hooks in hooks_due; catchalls and unresolved owners fire none.
func TestWebhookGate(t *testing.T) {
	t.Parallel()
	mb := domains.Mailbox{Name: testMailbox, Owner: "tester",
		Hooks: []domains.Hook{onReceive("h")},
		Webhooks: []domains.Webhook{
			{Name: "trusted-only", URL: "https://h.example/", Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret},
			{Name: "all", URL: "https://h.example/", Events: []domains.Event{domains.EventOnReceive}, Secret: testWebhookSecret, FireOnUntrusted: true},
			{Name: "sent", URL: "https://h.example/", Events: []domains.Event{domains.EventAfterSend}, Secret: testWebhookSecret},
		}}
	g := Gate{LookupOwner: stubOwner}
	if got := strings.Join(g.Due(mb, "true"), ","); got != "h,webhook:trusted-only,webhook:all" {
		t.Errorf("trusted: %s", got)
	}
	if got := strings.Join(g.Due(mb, "none"), ","); got != "webhook:all" {
		t.Errorf("untrusted: %s", got)
	}
	mb.Hooks = nil
	mb.Name = "*@a.test"
	if got := g.Due(mb, "true"); got != nil {
		t.Errorf("catchall: %v", got)
	}
	g.LookupOwner = func(string) (Owner, error) { return Owner{}, errors.New("no such user") }
	mb.Name = testMailbox
	if got := g.Due(mb, "true"); got != nil {
		t.Errorf("unresolved owner: %v", got)
	}
}
