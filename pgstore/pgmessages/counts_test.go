package pgmessages

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storage/storetest"
)

// trueCounts counts a mailbox's rows directly.
func trueCounts(t *testing.T, s *Store, folder storage.Folder) (total, unread int) {
	t.Helper()
	err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE NOT m.read)
		FROM aimx.messages m JOIN aimx.mailboxes b ON b.id = m.mailbox
		WHERE b.domain = $1 AND b.local = $2 AND m.folder = $3`, storetest.Ref.Domain, storetest.Ref.Local, string(folder)).
		Scan(&total, &unread)
	if err != nil {
		t.Fatal(err)
	}
	return total, unread
}

// checkCounts compares the kept counts (listing totals, Counts) with the rows.
func checkCounts(t *testing.T, s *Store, what string) {
	t.Helper()
	ctx := context.Background()
	for _, f := range storage.Folders {
		total, unread := trueCounts(t, s, f)
		all, err := s.List(ctx, storage.ListQuery{Mailbox: storetest.Ref, Folder: f, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		un, err := s.List(ctx, storage.ListQuery{Mailbox: storetest.Ref, Folder: f, Limit: 1, Unread: true})
		if err != nil {
			t.Fatal(err)
		}
		if all.Total != total || un.Total != unread {
			t.Fatalf("%s: %s lists total %d unread %d, rows say %d and %d", what, f, all.Total, un.Total, total, unread)
		}
	}
	c, err := s.Counts(ctx, storetest.Ref)
	if err != nil {
		t.Fatal(err)
	}
	it, iu := trueCounts(t, s, storage.Inbox)
	st, _ := trueCounts(t, s, storage.Sent)
	if c != (storage.Counts{Total: it, Unread: iu, Sent: st}) {
		t.Fatalf("%s: Counts %+v, rows say %d/%d/%d", what, c, it, iu, st)
	}
}

// TestCountsStayExact: two nodes storing, marking, moving and deleting at
// once, with the count rows folded meanwhile, keep listing totals and
// Counts equal to the rows; a removed mailbox starts again from zero.
func TestCountsStayExact(t *testing.T) {
	dsn := pgtest.DSN(t)
	nodes := []*Store{New(openDB(t, dsn, "a"), Options{}), New(openDB(t, dsn, "b"), Options{})}
	ctx := context.Background()
	var wg sync.WaitGroup
	for n, s := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				st, err := s.Put(ctx, inbox(fmt.Sprintf("n%d m%d", n, i), storetest.T0.Add(time.Duration(i)*time.Second)))
				if err != nil {
					t.Error(err)
					return
				}
				var opErr error
				switch i % 5 {
				case 1:
					_, opErr = s.SetRead(ctx, storetest.Ref, storage.Inbox, st.ID, true)
				case 2:
					_, opErr = s.Move(ctx, storetest.Ref, storage.Inbox, storage.Archive, st.ID)
				case 3:
					_, opErr = s.Delete(ctx, storetest.Ref, storage.Inbox, st.ID)
				case 4:
					_, opErr = s.Move(ctx, storetest.Ref, storage.Inbox, storage.Trash, st.ID)
				}
				if opErr != nil {
					t.Error(opErr)
					return
				}
				if i%10 == 0 {
					if _, err := s.Put(ctx, storage.PutRequest{Mailbox: storetest.Ref, Folder: storage.Sent,
						Frontmatter: storage.Frontmatter{Subject: "s"}}); err != nil {
						t.Error(err)
						return
					}
				}
				if i%7 == 0 {
					mbox, _, _ := mailboxID(ctx, s.db.Pool, storetest.Ref, false)
					s.compactIf(ctx, mbox, storage.Inbox, compactAt)
				}
			}
		}()
	}
	wg.Wait()
	checkCounts(t, nodes[0], "after the load")
	if n, err := nodes[1].PurgeTrash(ctx, storetest.Ref, time.Now().Add(time.Hour)); err != nil || n != 60 {
		t.Fatalf("PurgeTrash = %d, %v; want 60", n, err)
	}
	checkCounts(t, nodes[1], "after the purge")
	var rows int
	if err := nodes[0].db.Pool.QueryRow(ctx, `SELECT count(*) FROM aimx.folder_counts`).Scan(&rows); err != nil || rows >= 4*compactAt {
		t.Fatalf("%d count rows after listing every folder (%v), want them folded below %d a folder", rows, err, compactAt)
	}
	if _, err := nodes[0].RemoveMailbox(ctx, storetest.Ref); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].db.Pool.QueryRow(ctx, `SELECT count(*) FROM aimx.folder_counts`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d count rows after RemoveMailbox (%v), want 0", rows, err)
	}
	if _, err := nodes[1].Put(ctx, inbox("again", storetest.T0)); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, nodes[0], "after RemoveMailbox and a Put")
}
