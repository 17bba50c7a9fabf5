package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// fill stores n inbox messages one second apart (subject "m<i>") and
// returns their ids, oldest first.
func fill(t *testing.T, s storage.MessageStore, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range n {
		at := T0.Add(time.Duration(i) * time.Second)
		out[i] = put(t, s, inboxReq(Ref, "m"+string(rune('a'+i)), at)).ID
	}
	return out
}

func reversed(in []string) []string {
	out := slices.Clone(in)
	slices.Reverse(out)
	return out
}

func testList(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	all := fill(t, s, 5)
	put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Frontmatter: sentFM("out")})
	res := list(t, s, storage.ListQuery{})
	sameIDs(t, "newest first", ids(res), reversed(all))
	if res.Total != 5 || res.NextCursor != "" {
		t.Fatalf("Total %d NextCursor %q", res.Total, res.NextCursor)
	}
	for _, m := range res.Messages {
		if m.Frontmatter == nil || m.Frontmatter.ID != m.ID || m.Frontmatter.Subject == "" {
			t.Fatalf("summary %s: frontmatter %+v", m.ID, m.Frontmatter)
		}
	}
	sameIDs(t, "explicit inbox", ids(list(t, s, storage.ListQuery{Folder: storage.Inbox})), reversed(all))
	sameIDs(t, "oldest first", ids(list(t, s, storage.ListQuery{Oldest: true})), all)
	if res := list(t, s, storage.ListQuery{Folder: storage.Sent}); res.Total != 1 || !res.Messages[0].Frontmatter.Outbound {
		t.Fatalf("sent: %+v", res)
	}
	res = list(t, s, storage.ListQuery{Limit: 2, Offset: 1})
	sameIDs(t, "offset 1 limit 2", ids(res), []string{all[3], all[2]})
	if res.Total != 5 || res.NextCursor == "" {
		t.Fatalf("offset page: Total %d NextCursor %q", res.Total, res.NextCursor)
	}
	if res := list(t, s, storage.ListQuery{Offset: 10}); len(res.Messages) != 0 || res.Total != 5 {
		t.Fatalf("offset past the end: %v total %d", ids(res), res.Total)
	}
	for _, q := range []storage.ListQuery{{Mailbox: Ref, Limit: -1}, {Mailbox: Ref, Offset: -1}} {
		if _, err := s.List(ctx, q); err == nil {
			t.Fatalf("List(%+v) accepted", q)
		}
	}
	_, err := s.List(ctx, storage.ListQuery{Mailbox: Ref, Folder: "spam"})
	wantErr(t, "List of an unknown folder", err, storage.ErrInvalidFolder)
}

func testListPaging(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	all := fill(t, s, 7)
	for _, oldest := range []bool{false, true} {
		want := reversed(all)
		if oldest {
			want = all
		}
		var got []string
		cursor := ""
		total := 7
		late := ""
		for pages := 0; ; pages++ {
			if pages > 7 {
				t.Fatal("paging does not end")
			}
			res := list(t, s, storage.ListQuery{Limit: 3, Cursor: cursor, Oldest: oldest})
			if res.Total != total {
				t.Fatalf("page total %d, want %d", res.Total, total)
			}
			got = append(got, ids(res)...)
			if res.NextCursor == "" {
				break
			}
			cursor = res.NextCursor
			if pages == 0 {
				// Mail arriving between two pages moves nothing.
				late = put(t, s, inboxReq(Ref, "late", T0.Add(time.Hour))).ID
				total++
				if oldest {
					want = append(want, late)
				}
			}
		}
		sameIDs(t, "pages", got, want)
		if _, err := s.Delete(ctx, Ref, storage.Inbox, late); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	// A cursor whose message is gone keeps its place.
	first := list(t, s, storage.ListQuery{Limit: 2})
	if _, err := s.Delete(ctx, Ref, storage.Inbox, all[5]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	sameIDs(t, "after a deleted cursor row", ids(list(t, s, storage.ListQuery{Limit: 2, Cursor: first.NextCursor})),
		[]string{all[4], all[3]})
	oldestPage := list(t, s, storage.ListQuery{Limit: 2, Oldest: true})
	for _, bad := range []string{"not a cursor", "AAAA", oldestPage.NextCursor} {
		_, err := s.List(ctx, storage.ListQuery{Mailbox: Ref, Cursor: bad})
		wantErr(t, "List with cursor "+bad, err, storage.ErrBadCursor)
	}
}

func testListFilters(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	mk := func(subject string, at time.Time, edit func(fm *storage.Frontmatter)) string {
		req := inboxReq(Ref, subject, at)
		edit(&req.Frontmatter)
		return put(t, s, req).ID
	}
	a := mk("Quarterly Invoice", T0, func(fm *storage.Frontmatter) {})
	b := mk("lunch", T0.Add(time.Hour), func(fm *storage.Frontmatter) {
		fm.From, fm.ThreadID, fm.MessageID, fm.Trusted = "Bob <BOB@Example.NET>", "1111222233334444", "b@example.net", storage.TrustedFalse
	})
	c := mk("invoice reminder", T0.Add(2*time.Hour), func(fm *storage.Frontmatter) {
		fm.ThreadID, fm.MessageID, fm.Trusted = "1111222233334444", "c@example.net", storage.TrustedNone
	})
	d := mk("misc", T0.Add(3*time.Hour), func(fm *storage.Frontmatter) { fm.MessageID = "d@example.net" })
	if _, err := s.SetRead(ctx, Ref, storage.Inbox, c, true); err != nil {
		t.Fatalf("SetRead: %v", err)
	}
	if _, err := s.SetLabels(ctx, Ref, storage.Inbox, a, []string{"Finance"}, nil); err != nil {
		t.Fatalf("SetLabels: %v", err)
	}
	if _, err := s.SetLabels(ctx, Ref, storage.Inbox, d, []string{"finance", "later"}, nil); err != nil {
		t.Fatalf("SetLabels: %v", err)
	}
	tests := []struct {
		name string
		q    storage.ListQuery
		want []string
	}{
		{"unread", storage.ListQuery{Unread: true}, []string{d, b, a}},
		{"from, any case", storage.ListQuery{From: "bob@example"}, []string{b}},
		{"subject, any case", storage.ListQuery{Subject: "INVOICE"}, []string{c, a}},
		{"since", storage.ListQuery{Since: T0.Add(time.Hour + 500*time.Millisecond)}, []string{d, c, b}},
		{"thread_id", storage.ListQuery{ThreadID: "1111222233334444"}, []string{c, b}},
		{"thread_id and unread", storage.ListQuery{ThreadID: "1111222233334444", Unread: true}, []string{b}},
		{"message_id", storage.ListQuery{MessageID: "c@example.net"}, []string{c}},
		{"message_id of none", storage.ListQuery{MessageID: "zzz@example.net"}, nil},
		{"trusted true", storage.ListQuery{Trusted: storage.TrustedTrue}, []string{d, a}},
		{"trusted false", storage.ListQuery{Trusted: storage.TrustedFalse}, []string{b}},
		{"trusted none", storage.ListQuery{Trusted: storage.TrustedNone}, []string{c}},
		{"label, any case", storage.ListQuery{Label: " FINANCE"}, []string{d, a}},
		{"label and subject", storage.ListQuery{Label: "finance", Subject: "invoice"}, []string{a}},
		{"label of none", storage.ListQuery{Label: "nothing"}, nil},
		{"no match", storage.ListQuery{From: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := list(t, s, tc.q)
			sameIDs(t, tc.name, ids(res), tc.want)
			if res.Total != len(tc.want) {
				t.Fatalf("Total = %d, want %d", res.Total, len(tc.want))
			}
			if len(tc.want) < 2 {
				return
			}
			// Paged one at a time, with the total counting every match.
			q := tc.q
			q.Limit = 1
			var got []string
			for range len(tc.want) + 1 {
				res := list(t, s, q)
				if res.Total != len(tc.want) {
					t.Fatalf("page Total = %d, want %d", res.Total, len(tc.want))
				}
				got = append(got, ids(res)...)
				if res.NextCursor == "" {
					break
				}
				q.Cursor = res.NextCursor
			}
			sameIDs(t, tc.name+" paged", got, tc.want)
		})
	}
	_, err := s.List(ctx, storage.ListQuery{Mailbox: Ref, Label: "bad\u200blabel"})
	wantErr(t, "List with a bad label", err, storage.ErrInvalidLabel)
}

func testListSameSecond(t *testing.T, s storage.MessageStore) {
	// Two messages of one receipt second: listed by their receipt
	// (received_at below the second), not by their ids.
	late := inboxReq(Ref, "aaa", T0)
	late.Frontmatter.ReceivedAt = T0.Add(500 * time.Millisecond)
	early := inboxReq(Ref, "zzz", T0)
	early.Frontmatter.ReceivedAt = T0.Add(100 * time.Millisecond)
	e := put(t, s, early).ID
	l := put(t, s, late).ID
	before := put(t, s, inboxReq(Ref, "before", T0.Add(-time.Second))).ID
	after := put(t, s, inboxReq(Ref, "after", T0.Add(time.Second))).ID
	want := []string{after, l, e, before}
	res := list(t, s, storage.ListQuery{})
	sameIDs(t, "receipt order", ids(res), want)
	for i := 1; i < len(res.Messages); i++ {
		if storage.CompareReceipt(res.Messages[i], res.Messages[i-1]) >= 0 {
			t.Fatalf("CompareReceipt(%s, %s) >= 0", res.Messages[i].ID, res.Messages[i-1].ID)
		}
	}
	var got []string
	q := storage.ListQuery{Limit: 1}
	for range 5 {
		res := list(t, s, q)
		got = append(got, ids(res)...)
		if res.NextCursor == "" {
			break
		}
		q.Cursor = res.NextCursor
	}
	sameIDs(t, "receipt order paged", got, want)
	sameIDs(t, "receipt order, oldest first", ids(list(t, s, storage.ListQuery{Oldest: true})), reversed(want))
}
