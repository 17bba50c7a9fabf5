package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSearchThroughTheBinary is email_search end to end (book/search.md):
// mail delivered over SMTP and sent with email_send is found by the real
// daemon's index; an owner's token finds its own mail only, with no count
// for another owner's; the operator finds both; and after the index dir
// is deleted the next start rebuilds it from the files.
func TestSearchThroughTheBinary(t *testing.T) {
	t.Parallel()
	me := currentUser(t)
	other := "nobody"
	if me == other {
		other = "root"
	}
	mine, theirs := "me@"+hookDomain, "them@"+hookDomain
	d := StartDev(t, DaemonOptions{Config: "domains = [\"" + hookDomain + "\"]\ndata_dir = \"$DIR/data\"\nruntime_dir = \"$DIR/run\"\n\n" +
		mailboxTOML("me", me) + mailboxTOML("them", other)})
	deliver := func(to, id, subject, body string) {
		t.Helper()
		msg := "From: Bob <bob@example.test>\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + id +
			"@example.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n"
		if err := d.Deliver("bob@example.test", []string{to}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	deliver(mine, "m1", "Kumquat harvest", "the orchard report")
	deliver(mine, "m2", "weekly notes", "one kumquat tree was lost")
	deliver(theirs, "t1", "kumquat and persimmon", "persimmon prices")
	deliver(theirs, "t2", "persimmon", "kumquat jam")

	_, tok := d.mintToken("--owner", me)
	owner := connect(t, connectOpts{via: viaHTTP, version: protocolVersions[0], token: tok, httpAddr: d.Listen["mcp_http"]})
	op := connect(t, connectOpts{via: viaUnix, version: protocolVersions[1], socket: d.Listen["mcp_unix"]})
	total := func(s *mcpSession, args map[string]any) float64 {
		return s.call("email_search", args).ok(t).s["total"].(float64)
	}
	waitUntil(t, "the operator finds all four", func() bool { return total(op, map[string]any{"query": "kumquat"}) == 4 })
	res := owner.call("email_search", map[string]any{"query": "kumquat"}).ok(t).s
	hits := res["hits"].([]any)
	if res["total"] != 2.0 || len(hits) != 2 {
		t.Fatalf("owner's search: %v", res)
	}
	first := hits[0].(map[string]any)
	if first["mailbox"] != mine || first["subject"] != "Kumquat harvest" || first["folder"] != "inbox" {
		t.Fatalf("best hit %v, want the subject match in %s", first, mine)
	}
	if got := total(owner, map[string]any{"query": "persimmon"}); got != 0 {
		t.Fatalf("the owner counts another owner's mail: %v", got)
	}
	owner.call("email_search", map[string]any{"query": "kumquat", "mailbox": theirs}).
		fails(t, `mailbox "`+theirs+`" not found. Call mailbox_list`)

	// A sent copy is indexed through the send path.
	op.call("email_send", map[string]any{"from_mailbox": mine, "to": theirs, "subject": "Tangerine order", "body": "two crates of tangerines"}).ok(t)
	waitUntil(t, "the sent copy is found", func() bool {
		return total(owner, map[string]any{"query": "tangerine*", "folder": "sent"}) == 1
	})

	// The index is derived data: deleted, it is rebuilt at the next start.
	d.Stop()
	if err := os.RemoveAll(filepath.Join(d.DataDir(), ".index", "search")); err != nil {
		t.Fatal(err)
	}
	d.Start()
	op = connect(t, connectOpts{via: viaUnix, version: protocolVersions[0], socket: d.Listen["mcp_unix"]})
	waitUntil(t, "the rebuilt index finds all six", func() bool {
		return total(op, map[string]any{"query": "kumquat"}) == 4 && total(op, map[string]any{"query": "tangerines"}) == 2
	})
	if info, err := os.Stat(filepath.Join(d.DataDir(), ".index", "search")); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("index dir: %v %v", info, err)
	}
}
