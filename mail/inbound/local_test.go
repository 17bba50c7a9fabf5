package inbound

import (
	"context"
	"testing"
)

func TestDeliverLocal(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	raw := []byte("From: support@agent.example.com\r\nTo: agent@aimx.example.com\r\nSubject: local hop\r\n" +
		"Message-ID: <local-1@agent.example.com>\r\nDate: Wed, 07 Oct 2026 14:45:13 +0000\r\n\r\nHello.\r\n")
	rcpts := []string{"agent@aimx.example.com", "nobody@other.example.com", "x@not-ours.example", "anyone@agent.example.com"}
	sub := LocalSubmission{From: "support@agent.example.com", Recipients: rcpts, Data: raw, ID: "t1"}
	got := e.del.DeliverLocal(context.Background(), sub)
	if len(got) != len(rcpts) {
		t.Fatalf("%d results for %d recipients", len(got), len(rcpts))
	}
	if got[0] != nil || got[3] != nil {
		t.Fatalf("deliverable recipients refused: %v / %v", got[0], got[3])
	}
	if got[1] == nil || got[1].Code != 550 || got[1].Enhanced != [3]int{5, 1, 1} {
		t.Fatalf("unknown mailbox: %v", got[1])
	}
	if got[2] == nil || got[2].Code != 550 || got[2].Enhanced != [3]int{5, 7, 1} {
		t.Fatalf("foreign domain: %v", got[2])
	}
	m := e.only("agent@aimx.example.com")
	if m.Frontmatter.Subject != "local hop" || m.Frontmatter.ReceivedFromIP != "127.0.0.1" {
		t.Fatalf("stored: %+v", m.Frontmatter)
	}
	e.only("*@agent.example.com")

	// The same submission again is a re-delivery: nothing new is stored.
	again := e.del.DeliverLocal(context.Background(), sub)
	if again[0] != nil {
		t.Fatal(again[0])
	}
	e.only("agent@aimx.example.com")
}

func TestOwnHops(t *testing.T) {
	t.Parallel()
	rcv := []string{
		"from x ([1.2.3.4]) by mx.agent.test with ESMTPS id 1; Sun, 06 Dec 2026 10:00:00 +0000",
		"from y by MX.Agent.Test\r\n with ESMTP; Sun, 06 Dec 2026 10:00:00 +0000",
		"from z by mx.agent.test.evil.example with ESMTP; x",
		"from w by other.example; x",
	}
	if got := ownHops(rcv, "mx.agent.test"); got != 2 {
		t.Fatalf("ownHops = %d, want 2", got)
	}
}
