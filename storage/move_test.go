package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var moveRaw = []byte("Subject: move\r\n\r\nraw body\r\n")

// moveCases are the two shapes a message is stored in: a flat .md with
// its .eml, and a bundle dir with attachments.
var moveCases = map[string][]Attachment{
	"flat":   nil,
	"bundle": {{Filename: "report.txt", ContentType: "text/plain", Data: []byte("report")}},
}

func putMoveMsg(t testing.TB, s *Store, subject string, atts []Attachment) string {
	t.Helper()
	return putMsg(t, s, PutRequest{Raw: moveRaw, Frontmatter: inboundFM(subject), Body: "body of " + subject + "\r\n", Attachments: atts}).ID
}

// listIDs lists a folder's ids through the index, as email_list does.
func listIDs(t testing.TB, s *Store, f Folder) []string {
	t.Helper()
	res, err := s.List(context.Background(), ListQuery{Mailbox: testRef, Folder: f, Limit: 200})
	if err != nil {
		t.Fatalf("List %s: %v", f, err)
	}
	var ids []string
	for _, m := range res.Messages {
		ids = append(ids, m.ID)
	}
	if res.Total != len(ids) {
		t.Fatalf("List %s: total %d for %d messages", f, res.Total, len(ids))
	}
	return ids
}

// whereIs returns the folders that list id, checked through a fresh index
// (the files) and the store's own index.
func whereIs(t testing.TB, s *Store, id string) []Folder {
	t.Helper()
	var in []Folder
	for _, f := range Folders {
		if slices.Contains(listIDs(t, s, f), id) {
			in = append(in, f)
		}
	}
	return in
}

func TestMoveArchiveAndBack(t *testing.T) {
	t.Parallel()
	for name, atts := range moveCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, dir := openTestStore(t, Options{})
			ctx := context.Background()
			id := putMoveMsg(t, s, "archive me", atts)
			other := putMoveMsg(t, s, "stays", nil)
			if _, err := s.SetRead(ctx, testRef, Inbox, id, true); err != nil {
				t.Fatal(err)
			}
			listIDs(t, s, Inbox) // load the inbox index: the move must keep it current
			fm, err := s.Move(ctx, testRef, Inbox, Archive, id)
			if err != nil {
				t.Fatal(err)
			}
			if !fm.Read || fm.Subject != "archive me" {
				t.Fatalf("frontmatter after move = %+v", fm)
			}
			if got := whereIs(t, s, id); !slices.Equal(got, []Folder{Archive}) {
				t.Fatalf("after archiving, %s is in %v", id, got)
			}
			if got := listIDs(t, s, Inbox); !slices.Equal(got, []string{other}) {
				t.Fatalf("inbox = %v", got)
			}
			m, err := s.Read(ctx, testRef, Archive, id)
			if err != nil || m.Body != "body of archive me\r\n" || !m.Frontmatter.Read {
				t.Fatalf("Read archived = %+v, %v", m, err)
			}
			raw, err := s.OpenRaw(ctx, testRef, Archive, id)
			if err != nil {
				t.Fatalf("the .eml did not move: %v", err)
			}
			raw.Close()
			if len(atts) > 0 {
				f, err := s.OpenAttachment(ctx, testRef, Archive, id, "report.txt")
				if err != nil {
					t.Fatalf("attachment after move: %v", err)
				}
				f.Close()
			}
			// The archive dir has the mailbox modes.
			st, err := os.Stat(filepath.Join(dir, testRef.Domain, "archive", testRef.Local))
			if err != nil || st.Mode().Perm() != mailboxDirMode {
				t.Fatalf("archive dir: %v %v", st, err)
			}
			// Nothing of the id is left in the inbox dir.
			leftovers, _ := filepath.Glob(filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, id+"*"))
			if len(leftovers) > 0 {
				t.Fatalf("left in the inbox: %v", leftovers)
			}
			if _, err := s.Move(ctx, testRef, Archive, Inbox, id); err != nil {
				t.Fatal(err)
			}
			if got := whereIs(t, s, id); !slices.Equal(got, []Folder{Inbox}) {
				t.Fatalf("after unarchiving, %s is in %v", id, got)
			}
			// A store started afresh finds it there too.
			s2, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := whereIs(t, s2, id); !slices.Equal(got, []Folder{Inbox}) {
				t.Fatalf("after a restart, %s is in %v", id, got)
			}
		})
	}
}

func TestMoveRules(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	ctx := context.Background()
	in := putMoveMsg(t, s, "inbound", nil)
	sent := putMsg(t, s, PutRequest{Folder: Sent, Frontmatter: inboundFM("sent copy"), Body: "b"}).ID
	refused := []struct {
		from, to Folder
		id       string
	}{
		{Inbox, Sent, in},     // received mail is never a sent copy
		{Inbox, Inbox, in},    // already there
		{Sent, Archive, sent}, // sent copies are not archived
		{Sent, Inbox, sent},
	}
	for _, c := range refused {
		if _, err := s.Move(ctx, testRef, c.from, c.to, c.id); !errors.Is(err, ErrMoveRefused) {
			t.Errorf("move %s %s -> %s: %v, want ErrMoveRefused", c.id, c.from, c.to, err)
		}
	}
	if _, err := s.Move(ctx, testRef, Inbox, "drafts", in); !errors.Is(err, ErrInvalidFolder) {
		t.Errorf("unknown folder: %v", err)
	}
	if _, err := s.Move(ctx, testRef, Inbox, Archive, "2026-01-01-000000-none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing id: %v", err)
	}
	for _, id := range []string{"../" + in, "..", ".hidden", "a/b", `..\x`, "x\x00y", ""} {
		for _, op := range []func() error{
			func() error { _, err := s.Move(ctx, testRef, Inbox, Archive, id); return err },
			func() error { _, err := s.Delete(ctx, testRef, Inbox, id); return err },
			func() error { _, err := s.SetLabels(ctx, testRef, Inbox, id, []string{"x"}, nil); return err },
			func() error { _, err := s.OpenAttachment(ctx, testRef, Inbox, id, "x"); return err },
		} {
			if err := op(); !errors.Is(err, ErrInvalidID) {
				t.Errorf("id %q: %v, want ErrInvalidID", id, err)
			}
		}
	}
	if got := whereIs(t, s, in); !slices.Equal(got, []Folder{Inbox}) {
		t.Fatalf("a refused move moved: %v", got)
	}
	// A sent copy goes to the trash and back to sent.
	if _, err := s.Move(ctx, testRef, Sent, Trash, sent); err != nil {
		t.Fatal(err)
	}
	m, err := s.Read(ctx, testRef, Trash, sent)
	if err != nil || RestoreFolder(m.Frontmatter) != Sent {
		t.Fatalf("sent copy in the trash: %v %v", m, err)
	}
	if _, err := s.Move(ctx, testRef, Trash, Inbox, sent); !errors.Is(err, ErrMoveRefused) {
		t.Fatalf("sent copy restored to the inbox: %v", err)
	}
	if _, err := s.Move(ctx, testRef, Trash, Sent, sent); err != nil {
		t.Fatal(err)
	}
}

// The trash records when and from where, and a restore goes back there
// and drops the record; unknown keys and the body stay byte for byte.
func TestTrashAndRestore(t *testing.T) {
	t.Parallel()
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, dir := openTestStore(t, Options{Now: clock})
	ctx := context.Background()
	fm := inboundFM("keep my keys")
	fm.Extra = []Field{{Key: "x_future", Value: "kept"}}
	id := putMsg(t, s, PutRequest{Frontmatter: fm, Body: "body\r\n"}).ID
	if _, err := s.Move(ctx, testRef, Inbox, Archive, id); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = t0.Add(time.Hour)
	mu.Unlock()
	got, err := s.Move(ctx, testRef, Archive, Trash, id)
	if err != nil {
		t.Fatal(err)
	}
	at, from := TrashInfo(got)
	if !at.Equal(t0.Add(time.Hour)) || from != Archive || RestoreFolder(got) != Archive {
		t.Fatalf("trash info = %v %q, restore to %s", at, from, RestoreFolder(got))
	}
	md := readFile(t, filepath.Join(dir, testRef.Domain, "trash", testRef.Local, id+".md"))
	if !strings.Contains(md, "x_future = \"kept\"\ndeleted_at = \"2026-10-07T15:45:13Z\"\ndeleted_from = \"archive\"\n+++\n\nbody\r\n") {
		t.Fatalf("trash .md:\n%s", md)
	}
	back, err := s.Move(ctx, testRef, Trash, RestoreFolder(got), id)
	if err != nil {
		t.Fatal(err)
	}
	if at, from := TrashInfo(back); !at.IsZero() || from != "" || len(back.Extra) != 1 {
		t.Fatalf("restored message keeps trash keys: %+v", back.Extra)
	}
	if got := whereIs(t, s, id); !slices.Equal(got, []Folder{Archive}) {
		t.Fatalf("restored to %v", got)
	}
	md = readFile(t, filepath.Join(dir, testRef.Domain, "archive", testRef.Local, id+".md"))
	if strings.Contains(md, "deleted_") || !strings.HasSuffix(md, "x_future = \"kept\"\n+++\n\nbody\r\n") {
		t.Fatalf("restored .md:\n%s", md)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A destination that holds the id already refuses the move and leaves
// both messages as they were: an inbox message and a sent copy stored in
// the same second with the same subject share a stem.
func TestMoveIDTaken(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	ctx := context.Background()
	in := putMoveMsg(t, s, "same", nil)
	sent := putMsg(t, s, PutRequest{Folder: Sent, Raw: moveRaw, Frontmatter: inboundFM("same"), Body: "b"}).ID
	if in != sent {
		t.Fatalf("stems differ: %s %s", in, sent)
	}
	if _, err := s.Move(ctx, testRef, Inbox, Trash, in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Move(ctx, testRef, Sent, Trash, sent); !errors.Is(err, ErrIDTaken) {
		t.Fatalf("second move into the trash: %v, want ErrIDTaken", err)
	}
	if ids := listIDs(t, s, Sent); !slices.Equal(ids, []string{sent}) {
		t.Fatalf("sent = %v", ids)
	}
	if raw, err := s.OpenRaw(ctx, testRef, Sent, sent); err != nil {
		t.Fatalf("the refused move took the .eml: %v", err)
	} else {
		raw.Close()
	}
	if ids := listIDs(t, s, Trash); !slices.Equal(ids, []string{in}) {
		t.Fatalf("trash = %v", ids)
	}
}

// TestMoveCrashLeavesOnePlace: for every step of a move (and of its
// bookkeeping), a crash there leaves the message listed in exactly one
// folder after the restart's repair, whole: its .md, its .eml and its
// attachments read back.
func TestMoveCrashLeavesOnePlace(t *testing.T) {
	t.Parallel()
	for name, atts := range moveCases {
		for _, to := range []Folder{Archive, Trash} {
			t.Run(name+"/"+string(to), func(t *testing.T) {
				t.Parallel()
				w, seen := faultAt(-1)
				s, _ := openTestStore(t, Options{Writer: w})
				id := putMoveMsg(t, s, "crash", atts)
				*seen = nil
				if _, err := s.Move(context.Background(), testRef, Inbox, to, id); err != nil {
					t.Fatal(err)
				}
				points := len(*seen)
				if points < 3 {
					t.Fatalf("only %d fault points: %v", points, *seen)
				}
				for n := 1; n <= points; n++ {
					w, seen := faultAt(-1)
					s, dir := openTestStore(t, Options{Writer: w})
					id := putMoveMsg(t, s, "crash", atts)
					*seen = nil
					calls := 0
					w.Fault = func(step Step, path string) error {
						calls++
						*seen = append(*seen, step.String()+" "+path)
						if calls == n {
							return errCrash
						}
						return nil
					}
					_, err := s.Move(context.Background(), testRef, Inbox, to, id)
					w.Fault = nil
					step := (*seen)[n-1]
					if err != nil && !errors.Is(err, errCrash) {
						t.Fatalf("fault %d (%s): %v", n, step, err)
					}
					// Restart: a new store over the same dir, repaired.
					s2, err := Open(dir, Options{})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := s2.Repair(context.Background(), []MailboxOwner{{Ref: testRef}}); err != nil {
						t.Fatal(err)
					}
					where := whereIs(t, s2, id)
					if len(where) != 1 {
						t.Fatalf("fault %d (%s): message in %v", n, step, where)
					}
					checkWhole(t, s2, dir, where[0], id, "crash", atts, step)
					// It moves on from there.
					if where[0] == Inbox {
						if _, err := s2.Move(context.Background(), testRef, Inbox, to, id); err != nil {
							t.Fatalf("fault %d (%s): move again: %v", n, step, err)
						}
					}
				}
			})
		}
	}
}

// checkWhole reads every part of a message back from folder and checks
// that no file of it is left in any other folder.
func checkWhole(t *testing.T, s *Store, dir string, folder Folder, id, subject string, atts []Attachment, step string) {
	t.Helper()
	ctx := context.Background()
	m, err := s.Read(ctx, testRef, folder, id)
	if err != nil || m.Body != "body of "+subject+"\r\n" {
		t.Fatalf("after %s: read from %s: %v", step, folder, err)
	}
	raw, err := s.OpenRaw(ctx, testRef, folder, id)
	if err != nil {
		t.Fatalf("after %s: the .eml is lost: %v", step, err)
	}
	raw.Close()
	for _, a := range atts {
		f, err := s.OpenAttachment(ctx, testRef, folder, id, a.Filename)
		if err != nil {
			t.Fatalf("after %s: attachment %s: %v", step, a.Filename, err)
		}
		f.Close()
	}
	for _, f := range Folders {
		if f == folder {
			continue
		}
		left, _ := filepath.Glob(filepath.Join(dir, testRef.Domain, string(f), testRef.Local, id+"*"))
		if len(left) > 0 {
			t.Fatalf("after %s: %v left in %s", step, left, f)
		}
	}
}

func TestDeleteForGood(t *testing.T) {
	t.Parallel()
	for name, atts := range moveCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, seen := faultAt(-1)
			s, _ := openTestStore(t, Options{Writer: w})
			id := putMoveMsg(t, s, "gone", atts)
			keep := putMoveMsg(t, s, "kept", nil)
			listIDs(t, s, Inbox)
			*seen = nil
			n, err := s.Delete(context.Background(), testRef, Inbox, id)
			if err != nil {
				t.Fatal(err)
			}
			if want := 2 + len(atts); n != want {
				t.Fatalf("removed %d files, want %d", n, want)
			}
			if got := listIDs(t, s, Inbox); !slices.Equal(got, []string{keep}) {
				t.Fatalf("inbox after delete = %v", got)
			}
			if _, err := s.Delete(context.Background(), testRef, Inbox, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
			// A crash at any step: listed whole or not at all, and no
			// leftover after the restart's repair.
			points := len(*seen)
			for k := 1; k <= points; k++ {
				w, _ := faultAt(k)
				s, dir := openTestStore(t, Options{Writer: &Writer{}})
				id := putMoveMsg(t, s, "gone", atts)
				s.w = w
				if _, err := s.Delete(context.Background(), testRef, Inbox, id); !errors.Is(err, errCrash) {
					t.Fatalf("fault %d: %v", k, err)
				}
				s2, err := Open(dir, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s2.Repair(context.Background(), []MailboxOwner{{Ref: testRef}}); err != nil {
					t.Fatal(err)
				}
				if got := listIDs(t, s2, Inbox); len(got) == 1 {
					checkWhole(t, s2, dir, Inbox, id, "gone", atts, "delete fault")
				} else {
					left, _ := os.ReadDir(filepath.Join(dir, testRef.Domain, "inbox", testRef.Local))
					for _, e := range left {
						if e.Name() != ownerMarker {
							t.Fatalf("fault %d: left %s", k, e.Name())
						}
					}
				}
			}
		})
	}
}

func TestRemoveMailboxRemovesEveryFolder(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	ctx := context.Background()
	a := putMoveMsg(t, s, "archived", nil)
	b := putMoveMsg(t, s, "trashed", moveCases["bundle"])
	if _, err := s.Move(ctx, testRef, Inbox, Archive, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Move(ctx, testRef, Inbox, Trash, b); err != nil {
		t.Fatal(err)
	}
	n, err := s.RemoveMailbox(ctx, testRef)
	if err != nil || n != 5 {
		t.Fatalf("RemoveMailbox = %d, %v; want 5 files", n, err)
	}
	for _, f := range Folders {
		if _, err := os.Stat(filepath.Join(dir, testRef.Domain, string(f), testRef.Local)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s dir left: %v", f, err)
		}
		if ids := listIDs(t, s, f); len(ids) != 0 {
			t.Errorf("%s still lists %v", f, ids)
		}
	}
}
