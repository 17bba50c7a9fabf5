package mcp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
)

const mcpTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// webhook_create shows the secret once and keeps it in the config;
// webhook_list never shows it; refusals are worded without it.
func TestWebhookTools(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	r := e.callAs(cl, alice, "webhook_create", map[string]any{"mailbox": "support", "url": "https://hooks.example.com/aimx?k=1",
		"events": []string{"on_receive", "after_send"}, "include_body": true}).ok(t)
	secret, _ := r.structured["secret"].(string)
	name, _ := r.structured["name"].(string)
	if _, err := domains.WebhookKey(secret); err != nil || !strings.Contains(r.text, secret) || name == "" {
		t.Fatalf("webhook_create = %v (%s): %v", r.structured, r.text, err)
	}
	if ref, ok := e.reg.Current().FindWebhook(name); !ok || ref.Secret != secret || ref.Mailbox != support || !ref.IncludeBody {
		t.Fatalf("live config %+v", ref)
	}
	e.callAs(cl, alice, "webhook_create", map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{"on_receive"},
		"name": "mine", "secret": mcpTestSecret, "fire_on_untrusted": true}).ok(t)

	list := e.callAs(cl, alice, "webhook_list", nil).ok(t)
	if whs, _ := list.structured["webhooks"].([]any); len(whs) != 2 {
		t.Fatalf("webhook_list = %v", list.structured)
	}
	raw, _ := json.Marshal(list.structured)
	for _, leak := range []string{secret, mcpTestSecret, "whsec_"} {
		if strings.Contains(list.text, leak) || strings.Contains(string(raw), leak) {
			t.Errorf("webhook_list shows a secret: %s", raw)
		}
	}

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"mailbox": support, "url": "http://h.example/", "events": []string{"on_receive"}}, "https"},
		{map[string]any{"mailbox": support, "url": "https://127.0.0.1:8080/", "events": []string{"on_receive"}}, "webhook_allow_private"},
		{map[string]any{"mailbox": support, "url": "https://[::1]/", "events": []string{"on_receive"}}, "loopback"},
		{map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{}}, "events must list"},
		{map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{"on_receive"}, "secret": "whsec_tooshort"}, "secret must be"},
		{map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{"after_send"}, "fire_on_untrusted": true}, "on_receive only"},
		{map[string]any{"mailbox": catchall, "url": "https://h.example/", "events": []string{"on_receive"}}, "catchall"},
		{map[string]any{"mailbox": billing, "url": "https://h.example/", "events": []string{"on_receive"}}, "not found"},
		{map[string]any{"mailbox": support, "url": "https://h.example/2", "events": []string{"on_receive"}, "name": "mine"}, "already has a webhook named"},
	} {
		r := e.callAs(cl, alice, "webhook_create", tc.args).fails(t, tc.want)
		if strings.Contains(r.text, "whsec_tooshort") || strings.Contains(r.text, "config.toml") {
			t.Errorf("refusal %q leaks", r.text)
		}
	}

	e.callAs(cl, alice, "webhook_delete", map[string]any{"name": "mine"}).ok(t)
	e.callAs(cl, alice, "webhook_delete", map[string]any{"name": "mine"}).fails(t, `webhook "mine" not found`)
	noHooks := Caller{Owner: "alice"}
	e.callAs(cl, noHooks, "webhook_list", nil).fails(t, "may not manage webhooks")
	e.callAs(cl, noHooks, "webhook_create", map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{"on_receive"}}).fails(t, "may not manage webhooks")
	e.callAs(cl, noHooks, "webhook_delete", map[string]any{"name": name}).fails(t, "may not manage webhooks")
}

// Another owner's webhooks are invisible: not listed, not deletable, and
// a name clash with one reads like an invalid name, naming nothing of it.
func TestWebhookVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	e.callAs(cl, bob, "webhook_create", map[string]any{"mailbox": billing, "url": "https://bob-secret.example/hook?token=hunter2",
		"events": []string{"on_receive"}, "name": "shared"}).ok(t)

	list := e.callAs(cl, alice, "webhook_list", nil).ok(t)
	if whs, _ := list.structured["webhooks"].([]any); len(whs) != 0 {
		t.Fatalf("alice sees %v", list.structured)
	}
	e.callAs(cl, alice, "webhook_list", map[string]any{"mailbox": billing}).fails(t, "not found")
	e.callAs(cl, alice, "webhook_delete", map[string]any{"name": "shared"}).fails(t, `webhook "shared" not found`)
	clash := e.callAs(cl, alice, "webhook_create", map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{"on_receive"}, "name": "shared"}).fails(t, "cannot be used")
	invalid := e.callAs(cl, alice, "webhook_create", map[string]any{"mailbox": support, "url": "https://h.example/", "events": []string{"on_receive"}, "name": "-bad"}).fails(t, "cannot be used")
	if a, b := strings.ReplaceAll(clash.text, `"shared"`, "N"), strings.ReplaceAll(invalid.text, `"-bad"`, "N"); a != b {
		t.Errorf("a taken name and an invalid one answer differently:\n%s\n%s", clash.text, invalid.text)
	}
	for _, leak := range []string{"bob", billing, "bob-secret", "hunter2"} {
		if strings.Contains(clash.text, leak) || strings.Contains(list.text, leak) {
			t.Errorf("%q leaks to alice", leak)
		}
	}
	if ref, ok := e.reg.Current().FindWebhook("shared"); !ok || ref.Mailbox != billing {
		t.Fatalf("bob's webhook changed: %+v", ref)
	}
	// The operator sees and deletes any.
	if whs, _ := e.callAs(cl, operator, "webhook_list", nil).ok(t).structured["webhooks"].([]any); len(whs) != 1 {
		t.Errorf("the operator sees %v", whs)
	}
	e.callAs(cl, operator, "webhook_delete", map[string]any{"name": "shared"}).ok(t)
}
