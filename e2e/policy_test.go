package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// policyConfig adds a send policy to sendConfig: hello may send only to
// example.org, twice an hour; held@ needs the operator's approval.
const policyConfig = sendConfig + `send_allow = ["*@example.org"]
send_quota_hour = 2

[mailboxes."held@agent.localhost"]
address = "held@agent.localhost"
owner = "root"
send_approval = "required"
`

func TestIdempotentSendAcrossRestart(t *testing.T) {
	t.Parallel()
	relay := startSink(t, nil)
	d, s := startSender(t, relay, nil)
	args := map[string]any{"from_mailbox": hello, "to": "alice@example.org", "subject": "once only", "body": "b", "idempotency_key": "order-42"}
	first := s.call("email_send", args).ok(t)
	if first.s["replayed"] == true || first.s["delivery_status"] != "delivered" {
		t.Fatalf("first send: %v", first.s)
	}
	d.Stop()
	d.Restart()
	s = d.devConnect(t, viaUnix, protocolVersions[0])
	again := s.call("email_send", args).ok(t)
	if again.s["replayed"] != true || again.s["id"] != first.s["id"] || again.s["message_id"] != first.s["message_id"] {
		t.Fatalf("after a restart: %v", again.s)
	}
	if !strings.Contains(again.text, "nothing sent again") {
		t.Errorf("text: %s", again.text)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(relay.messages()); n != 1 {
		t.Fatalf("the sink got %d messages, want 1", n)
	}
}

func TestSendPolicyAndApproval(t *testing.T) {
	t.Parallel()
	relay := startSink(t, nil)
	d := StartDev(t, DaemonOptions{Config: testOwner(t, policyConfig), Extra: []string{"--relay", relay.relay()}})
	s := d.devConnect(t, viaUnix, protocolVersions[0])
	send := func(from, to string) toolResult {
		return s.call("email_send", map[string]any{"from_mailbox": from, "to": to, "subject": "policy", "body": "b"})
	}
	send(hello, "eve@example.com").fails(t, "send_allow")
	send(hello, "a@example.org").ok(t)
	send(hello, "b@example.org").ok(t)
	send(hello, "c@example.org").fails(t, "send_quota_hour")

	held := send("held@agent.localhost", "boss@example.net").ok(t)
	if held.s["delivery_status"] != "held" {
		t.Fatalf("held send: %v", held.s)
	}
	out, errOut, code := d.CLI("--json", "drafts", "list")
	var list struct {
		Drafts []struct {
			ID      string `json:"id"`
			Mailbox string `json:"mailbox"`
			SentID  string `json:"sent_id"`
		} `json:"drafts"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Drafts) != 1 || list.Drafts[0].SentID != held.s["id"] {
		t.Fatalf("drafts list: %d %s %s", code, out, errOut)
	}
	if n := len(relay.messages()); n != 2 {
		t.Fatalf("the held send went out: %d messages", n)
	}
	if _, errOut, code := d.CLI("drafts", "approve", list.Drafts[0].ID); code != 0 {
		t.Fatalf("approve: %s", errOut)
	}
	relay.waitMessages(t, 3)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.call("email_status", map[string]any{"mailbox": "held@agent.localhost", "id": held.s["id"]}).ok(t).s
		if st["delivery_status"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after approval: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
