package operations

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
)

// A webhook is created with a generated secret kept in config.toml,
// listed without it, refused on rules, private addresses, catchalls and
// hidden mailboxes, and deleted only by one who sees it.
func TestWebhooksCreateListDelete(t *testing.T) {
	t.Parallel()
	_, ch, _ := newHooks(t)
	ed := &Webhooks{Config: ch}
	ctx := context.Background()
	onlyTester := Sees(func(m domains.Mailbox) bool { return m.Owner == "tester" })

	ref, err := ed.Create(ctx, NewWebhook{Mailbox: "support", Sees: onlyTester,
		Webhook: domains.Webhook{URL: "https://hooks.example.com/in", Events: []domains.Event{domains.EventOnReceive}}})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Mailbox != testMailbox || !strings.HasPrefix(ref.Secret, domains.WebhookSecretPrefix) {
		t.Fatalf("created %+v", ref)
	}
	if _, err := domains.WebhookKey(ref.Secret); err != nil {
		t.Fatalf("generated secret: %v", err)
	}
	raw, _ := os.ReadFile(ch.Store.Path)
	if !strings.Contains(string(raw), ref.Secret) {
		t.Error("config.toml lacks the secret, which signing needs")
	}
	rows := WebhookRows(ch.Registry.Current(), "", onlyTester)
	if len(rows) != 1 || rows[0].Name != ref.Name() || rows[0].URL != "https://hooks.example.com/in" {
		t.Fatalf("rows %+v", rows)
	}
	if bob := WebhookRows(ch.Registry.Current(), "", func(m domains.Mailbox) bool { return m.Owner == "bob" }); len(bob) != 0 {
		t.Errorf("bob sees %+v", bob)
	}

	wh := func(url string) domains.Webhook {
		return domains.Webhook{URL: url, Events: []domains.Event{domains.EventAfterSend}}
	}
	for _, tc := range []struct {
		mailbox string
		w       domains.Webhook
		want    error
	}{
		{"support", wh("http://hooks.example.com/in"), ErrInvalidWebhook},
		{"support", wh("https://127.0.0.1:9/in"), ErrInvalidWebhook},
		{"support", domains.Webhook{URL: "https://h.example/", Secret: "whsec_bad"}, ErrInvalidWebhook},
		{"*@a.test", wh("https://h.example/"), ErrInvalidWebhook},
		{"bob", wh("https://h.example/"), ErrNoSuchMailbox},
		{"support", domains.Webhook{Name: ref.Name(), URL: "https://h.example/", Events: []domains.Event{domains.EventOnReceive}}, ErrWebhookExists},
	} {
		if _, err := ed.Create(ctx, NewWebhook{Mailbox: tc.mailbox, Webhook: tc.w, Sees: onlyTester}); !errors.Is(err, tc.want) {
			t.Errorf("create %s %+v: %v, want %v", tc.mailbox, tc.w, err, tc.want)
		} else if strings.Contains(err.Error(), "whsec_bad") {
			t.Errorf("the error echoes the secret: %v", err)
		}
	}
	// A name taken on a mailbox the caller may not see is Hidden.
	if _, err := ed.Create(ctx, NewWebhook{Mailbox: "bob", Webhook: domains.Webhook{Name: "b", URL: "https://h.example/", Events: []domains.Event{domains.EventOnReceive}}}); err != nil {
		t.Fatal(err)
	}
	var taken *WebhookTakenError
	_, err = ed.Create(ctx, NewWebhook{Mailbox: "support", Sees: onlyTester, Webhook: domains.Webhook{Name: "b", URL: "https://h.example/", Events: []domains.Event{domains.EventOnReceive}}})
	if !errors.As(err, &taken) || !taken.Hidden {
		t.Errorf("clash with a hidden webhook: %v", err)
	}

	if _, err := ed.Delete(ctx, "b", onlyTester); !errors.Is(err, ErrWebhookNotFound) {
		t.Errorf("deleted another owner's webhook: %v", err)
	}
	if _, err := ed.Delete(ctx, ref.Name(), onlyTester); err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.Registry.Current().FindWebhook(ref.Name()); ok {
		t.Error("the webhook is still live")
	}
	// With the operator's setting, a loopback URL is accepted.
	if _, err := ch.Update(func(c *domains.Config) error { c.Hooks.WebhookAllowPrivate = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := ed.Create(ctx, NewWebhook{Mailbox: "support", Webhook: domains.Webhook{URL: "https://127.0.0.1:9/in", Events: []domains.Event{domains.EventOnReceive}}}); err != nil {
		t.Errorf("with webhook_allow_private: %v", err)
	}
}
