package storage

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Finance": "finance", " waiting on customer ": "waiting on customer", "Résumé": "résumé", "a/b:c": "a/b:c"} {
		if got, err := NormalizeLabel(in); err != nil || got != want {
			t.Errorf("NormalizeLabel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", "a\nb", "invoice\u202efdp", "zero\u200bwidth", strings.Repeat("x", MaxLabelChars+1), "\xff"} {
		if _, err := NormalizeLabel(bad); !errors.Is(err, ErrInvalidLabel) {
			t.Errorf("NormalizeLabel(%q) = %v, want ErrInvalidLabel", bad, err)
		}
	}
}

// SetLabels changes only the labels key: unknown keys and the body stay,
// a no-op writes nothing, and the label filter follows every change.
func TestSetLabels(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	ctx := context.Background()
	fm := inboundFM("labels")
	fm.Extra = []Field{{Key: "x_future", Value: "kept"}}
	id := putMsg(t, s, PutRequest{Frontmatter: fm, Body: "body\r\n"}).ID
	other := putMsg(t, s, PutRequest{Frontmatter: inboundFM("other"), Body: "b"}).ID
	if got := labeled(t, s, Inbox, "finance"); len(got) != 0 {
		t.Fatalf("labeled before = %v", got)
	}
	got, err := s.SetLabels(ctx, testRef, Inbox, id, []string{"Finance", "invoices", "finance"}, nil)
	if err != nil || !slices.Equal(got.Labels(), []string{"finance", "invoices"}) {
		t.Fatalf("SetLabels add = %v, %v", got.Labels(), err)
	}
	path := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, id+".md")
	md := readFile(t, path)
	if !strings.HasSuffix(md, "x_future = \"kept\"\nlabels = [\"finance\", \"invoices\"]\n+++\n\nbody\r\n") {
		t.Fatalf(".md after labelling:\n%s", md)
	}
	st1, _ := os.Stat(path)
	if _, err := s.SetLabels(ctx, testRef, Inbox, id, []string{"INVOICES"}, nil); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(path); !os.SameFile(st1, st2) {
		t.Fatal("a label already there rewrote the file")
	}
	if got := labeled(t, s, Inbox, "Finance"); !slices.Equal(got, []string{id}) {
		t.Fatalf("labeled finance = %v", got)
	}
	if _, err := s.SetLabels(ctx, testRef, Inbox, other, []string{"finance"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.SetLabels(ctx, testRef, Inbox, id, []string{"later"}, []string{"FINANCE", "absent"})
	if err != nil || !slices.Equal(got.Labels(), []string{"invoices", "later"}) {
		t.Fatalf("SetLabels add+remove = %v, %v", got.Labels(), err)
	}
	if got := labeled(t, s, Inbox, "finance"); !slices.Equal(got, []string{other}) {
		t.Fatalf("labeled finance after removal = %v", got)
	}
	if got, err = s.SetLabels(ctx, testRef, Inbox, id, nil, []string{"invoices", "later"}); err != nil || got.Labels() != nil {
		t.Fatalf("remove all = %v, %v", got.Labels(), err)
	}
	if md := readFile(t, path); strings.Contains(md, "labels =") || !strings.Contains(md, "x_future") {
		t.Fatalf(".md after removing every label:\n%s", md)
	}
	// Moves and deletes carry the filter along.
	if _, err := s.Move(ctx, testRef, Inbox, Archive, other); err != nil {
		t.Fatal(err)
	}
	if got := labeled(t, s, Inbox, "finance"); len(got) != 0 {
		t.Fatalf("inbox finance after the move = %v", got)
	}
	if got := labeled(t, s, Archive, "finance"); !slices.Equal(got, []string{other}) {
		t.Fatalf("archive finance = %v", got)
	}
	if _, err := s.Delete(ctx, testRef, Archive, other); err != nil {
		t.Fatal(err)
	}
	if got := labeled(t, s, Archive, "finance"); len(got) != 0 {
		t.Fatalf("archive finance after delete = %v", got)
	}
	// Refusals.
	if _, err := s.SetLabels(ctx, testRef, Inbox, id, []string{"bad\u202elabel"}, nil); !errors.Is(err, ErrInvalidLabel) {
		t.Fatalf("bad label: %v", err)
	}
	many := make([]string, MaxLabels+1)
	for i := range many {
		many[i] = "l" + strings.Repeat("x", i)
	}
	if _, err := s.SetLabels(ctx, testRef, Inbox, id, many, nil); !errors.Is(err, ErrInvalidLabel) {
		t.Fatalf("too many labels: %v", err)
	}
	if _, err := s.SetLabels(ctx, testRef, Inbox, "2026-01-01-000000-none", []string{"x"}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing message: %v", err)
	}
}

func labeled(t testing.TB, s *Store, f Folder, label string) []string {
	t.Helper()
	ids, err := s.labeledIDs(context.Background(), testRef, f, label)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(ids))
}

// Rust mail keeps its labels where the Rust aimx wrote them (after
// read/read_at), and a new label is appended to the same array.
func TestSetLabelsRustMail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyTree(t, filepath.Join(fixtureRoot, "v2", "data"), dir)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := MailboxRef{Domain: "agent.example.com", Local: "billing"}
	id := "2026-09-16-090014-your-receipt-1042-fr"
	ids, err := s.labeledIDs(context.Background(), ref, Inbox, "receipts")
	if err != nil || !ids[id] {
		t.Fatalf("Rust labels not seen by the filter: %v %v", ids, err)
	}
	path := filepath.Join(dir, ref.Domain, "inbox", ref.Local, id+".md")
	before := readFile(t, path)
	fm, err := s.SetLabels(context.Background(), ref, Inbox, id, []string{"paid"}, nil)
	if err != nil || !slices.Equal(fm.Labels(), []string{"finance", "receipts", "paid"}) {
		t.Fatalf("SetLabels on Rust mail = %v, %v", fm.Labels(), err)
	}
	after := readFile(t, path)
	if !strings.Contains(after, "read = false\nlabels = [\"finance\", \"receipts\", \"paid\"]\n") {
		t.Fatalf("labels moved:\n%s", after)
	}
	_, bodyBefore, _ := strings.Cut(before, "+++\n\n")
	_, bodyAfter, _ := strings.Cut(after, "+++\n\n")
	if bodyBefore != bodyAfter {
		t.Fatal("the body changed")
	}
}
