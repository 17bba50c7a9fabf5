package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkSignature verifies a delivery as a Standard Webhooks receiver does
// (spec, "Verifying signatures"), from the spec alone: the HMAC-SHA256,
// keyed with the base64 after whsec_, of `webhook-id.webhook-timestamp.body`
// must equal one `v1,` entry of webhook-signature, and the timestamp must
// be within five minutes.
func checkSignature(secret string, h http.Header, body []byte) error {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("webhook-timestamp is not a recent integer")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id+"."+ts+".")
	mac.Write(body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, b64, _ := strings.Cut(sig, ","); v == "v1" {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, mac.Sum(nil)) {
				return nil
			}
		}
	}
	return errors.New("no webhook-signature entry matches")
}

// hookRequest is one POST the loopback receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
	at     time.Time
}

// webhookReceiver answers its first request 500 and the rest 200.
func webhookReceiver(t *testing.T) (url string, got <-chan hookRequest) {
	ch := make(chan hookRequest, 16)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusInternalServerError)
		}
		ch <- hookRequest{header: r.Header.Clone(), body: body, at: time.Now()}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/aimx", ch
}

func nextRequest(t *testing.T, ch <-chan hookRequest) hookRequest {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(60 * time.Second): // backstop only
		t.Fatal("no webhook request")
		return hookRequest{}
	}
}

// TestWebhookEndToEnd: webhook_create over aimx.sock on a running
// daemon, mail over real SMTP, and a signed POST to a loopback receiver
// (the config allows private addresses and plain http to 127.0.0.1) that
// answers 500 first: the delivery is retried with the same webhook-id and
// both are signed with the secret webhook_create showed once. The secret
// is in config.toml (not world-readable) and nowhere in the log or in
// webhook_list. With webhook_allow_private turned off and reloaded, a
// loopback URL is refused at create time.
func TestWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	url, got := webhookReceiver(t)
	dir := newDevDir(t)
	cfg := "domains = [\"" + hookDomain + "\"]\ndata_dir = \"$DIR/data\"\nruntime_dir = \"$DIR/run\"\n\n" +
		"[hooks]\nworkers = 1\nwebhook_allow_private = true\nwebhook_http_hosts = [\"127.0.0.1\"]\n\n" +
		mailboxTOML("hello", currentUser(t))
	d := StartDev(t, DaemonOptions{Dir: dir, Config: cfg})
	s := d.devConnect(t, viaUnix, protocolVersions[0])
	created := s.call("webhook_create", map[string]any{"mailbox": "hello", "url": url, "events": []string{"on_receive"},
		"name": "crm", "fire_on_untrusted": true, "include_body": true}).ok(t).s
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("webhook_create = %v", created)
	}

	rcpt := "hello@" + hookDomain
	if err := d.Deliver("bob@example.test", []string{rcpt}, hookMessage(rcpt, "wh-1@example.test", "webhook one")); err != nil {
		t.Fatal(err)
	}
	first, second := nextRequest(t, got), nextRequest(t, got)
	for i, r := range []hookRequest{first, second} {
		if err := checkSignature(secret, r.header, r.body); err != nil {
			t.Fatalf("request %d: %v\n%s", i+1, err, r.body)
		}
	}
	if first.header.Get("webhook-id") != second.header.Get("webhook-id") || string(first.body) != string(second.body) {
		t.Error("the retry is not the same delivery")
	}
	if gap := second.at.Sub(first.at); gap < 4*time.Second {
		t.Errorf("retried %v after the 500, want the 5 s backoff", gap)
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			Mailbox   string  `json:"mailbox"`
			MessageID string  `json:"message_id"`
			Subject   string  `json:"subject"`
			Trusted   string  `json:"trusted"`
			Body      *string `json:"body"`
		} `json:"data"`
	}
	if err := json.Unmarshal(second.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "email.received" || p.Data.Mailbox != rcpt || p.Data.MessageID != "wh-1@example.test" ||
		p.Data.Subject != "webhook one" || p.Data.Trusted != "none" || p.Data.Body == nil || !strings.Contains(*p.Data.Body, "Hello.") {
		t.Errorf("payload %s", second.body)
	}
	waitLog(t, d, `"webhook delivered"`, `"webhook":"crm"`)
	for _, m := range readMessages(t, d.DataDir(), hookDomain, "hello") {
		if due, _ := m.FM["hooks_due"].([]any); len(due) != 1 || due[0] != "webhook:crm" {
			t.Errorf("hooks_due %v", m.FM["hooks_due"])
		}
	}

	list := s.call("webhook_list", nil).ok(t)
	if b, _ := json.Marshal(list.s); strings.Contains(string(b)+list.text, secret) {
		t.Error("webhook_list shows the secret")
	}
	if strings.Contains(d.Stderr()+d.Stdout(), secret) {
		t.Error("the secret reached the daemon's output")
	}
	path := filepath.Join(dir, "config.toml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); !strings.Contains(string(raw), secret) || fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("config.toml (mode %v) must hold the secret and not be world-readable", fi.Mode())
	}

	// The operator turns private addresses off: a loopback URL is refused
	// when the webhook is created.
	s.call("webhook_delete", map[string]any{"name": "crm"}).ok(t)
	raw, _ = os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), "webhook_allow_private = true\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := d.CLI("reload"); code != 0 {
		t.Fatalf("reload: %d %s", code, errOut)
	}
	s.call("webhook_create", map[string]any{"mailbox": "hello", "url": url, "events": []string{"on_receive"}}).
		fails(t, "webhooks may not reach loopback")
}
