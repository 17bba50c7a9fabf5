package message

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestM4_DedupKeyIncludesDigest(t *testing.T) {
	t.Parallel()
	noID := "From: A <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n"
	noIDSum := sha("A <a@x>\nThu, 1 Jan 2025 12:00:00 +0000\nhi\n\nbody\r\n")
	cases := []struct {
		name, raw, want string
	}{
		{"message-id without brackets, then the digest", "Message-ID: <abc@x>\r\n\r\nbody", "abc@x " + sha("\n\n\n\nbody")},
		{"message-id case kept", "message-id:   <AbC@X>  \r\n\r\n", "AbC@X " + sha("\n\n\n\n")},
		{"first message-id wins", "Message-ID: <one@x>\r\nMessage-ID: <two@x>\r\n\r\n", "one@x " + sha("\n\n\n\n")},
		{"no message-id hashes raw values and body", noID, noIDSum},
		{"empty message-id counts as absent", "Message-ID:\r\n" + noID, noIDSum},
		{"trace fields above do not change it", "Received: from x\r\nAuthentication-Results: mx; none\r\n" + noID, noIDSum},
		{"folding removed, whitespace kept", "From: A\r\n <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject:   hi  \r\n\r\nbody\r\n", noIDSum},
		{"values are raw, not decoded", "Subject: =?utf-8?q?hi?=\r\n\r\n", sha("\n\n=?utf-8?q?hi?=\n\n")},
		{"absent fields are empty", "X: y\r\n\r\nb", sha("\n\n\n\nb")},
		{"header only", "From: a@x", sha("a@x\n\n\n\n")},
	}
	for _, tc := range cases {
		if got := DedupKey([]byte(tc.raw)); got != tc.want {
			t.Errorf("%s: DedupKey = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Any change to the body, From, Date or Subject changes the key.
	base := DedupKey([]byte(noID))
	for _, changed := range []string{
		"From: B <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n",
		"From: A <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:01 +0000\r\nSubject: hi\r\n\r\nbody\r\n",
		"From: A <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject: ho\r\n\r\nbody\r\n",
		"From: A <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject: hi\r\n\r\nbody\n",
	} {
		if DedupKey([]byte(changed)) == base {
			t.Errorf("key did not change for %q", changed)
		}
	}
	// M4: a message that reuses another's Message-ID with another body,
	// From, Date or Subject has another key.
	withID := "Message-ID: <same@x>\r\n" + noID
	for _, changed := range []string{
		"Message-ID: <same@x>\r\nFrom: Mallory <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n",
		"Message-ID: <same@x>\r\nFrom: A <a@x>\r\nDate: Thu, 1 Jan 2025 12:00:00 +0000\r\nSubject: hi\r\n\r\nforged\r\n",
	} {
		if DedupKey([]byte(changed)) == DedupKey([]byte(withID)) {
			t.Errorf("M4: same key for %q", changed)
		}
	}
	if got := DedupMessageID(DedupKey([]byte(withID))); got != "same@x" {
		t.Errorf("DedupMessageID = %q", got)
	}
	if got := DedupMessageID(DedupKey([]byte(noID))); got != "" {
		t.Errorf("DedupMessageID without id = %q", got)
	}
	// Parse records the same key.
	m, err := Parse([]byte(noID))
	if err != nil || m.DedupKey != noIDSum {
		t.Errorf("Parse DedupKey = %q (%v), want %q", m.DedupKey, err, noIDSum)
	}
}

func TestThreadID(t *testing.T) {
	t.Parallel()
	h := func(s string) string { return sha(s)[:16] }
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"first reference is the root", Message{MessageID: "c@x", InReplyTo: "b@x", References: []string{"a@x", "b@x"}}, h("a@x")},
		{"in-reply-to without references", Message{MessageID: "c@x", InReplyTo: "b@x"}, h("b@x")},
		{"own id starts a thread", Message{MessageID: "c@x"}, h("c@x")},
		{"no ids at all: dedup key", Message{DedupKey: "abcd"}, h("abcd")},
	}
	for _, tc := range cases {
		if got := ThreadID(&tc.m); got != tc.want {
			t.Errorf("%s: ThreadID = %s, want %s", tc.name, got, tc.want)
		}
	}
	// A reply and its original share a thread.
	orig, _ := Parse([]byte("Message-ID: <root@x>\r\n\r\nhi"))
	reply, _ := Parse([]byte("Message-ID: <r1@y>\r\nIn-Reply-To: <root@x>\r\nReferences: <root@x>\r\n\r\nre"))
	if ThreadID(orig) != ThreadID(reply) || len(ThreadID(orig)) != 16 {
		t.Errorf("thread ids %q and %q should match and be 16 hex", ThreadID(orig), ThreadID(reply))
	}
}
