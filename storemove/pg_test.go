package storemove

import (
	"context"
	"os"
	"testing"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openPG opens the message store of a fresh database.
func openPG(t *testing.T) storage.MessageStore {
	t.Helper()
	db, err := pgstore.Open(context.Background(), pgtest.DSN(t), pgstore.Options{Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return pgmessages.New(db, pgmessages.Options{})
}

// TestRoundTripPostgres copies files into PostgreSQL and back into other
// files: every message comes back with its id, folder, byte-identical
// .eml, body, attachments and state, and the digests of all three agree.
func TestRoundTripPostgres(t *testing.T) {
	ctx := context.Background()
	files, pg, back := openFiles(t), openPG(t), openFiles(t)
	n := fill(t, files)
	opts := Options{Mailboxes: mailboxes(), PageSize: 4}
	res, err := Copy(ctx, files, pg, opts)
	if err != nil {
		t.Fatalf("files to postgres: %v", err)
	}
	if res.Copied != n {
		t.Errorf("copied %d of %d into postgres", res.Copied, n)
	}
	sameMail(t, files, pg)
	res, err = Copy(ctx, pg, back, opts)
	if err != nil {
		t.Fatalf("postgres to files: %v", err)
	}
	if res.Copied != n {
		t.Errorf("copied %d of %d out of postgres", res.Copied, n)
	}
	sameMail(t, files, back)
	for _, mb := range mailboxes() {
		for _, folder := range storage.Folders {
			var sums []string
			for _, s := range []storage.MessageStore{files, pg, back} {
				_, sum, err := Digest(ctx, s, mb.Ref, folder)
				if err != nil {
					t.Fatal(err)
				}
				sums = append(sums, sum)
			}
			if sums[0] != sums[1] || sums[1] != sums[2] {
				t.Errorf("%s/%s: digests %v", mb.Ref, folder, sums)
			}
		}
	}
	// Run again: everything is there.
	res, err = Copy(ctx, files, pg, opts)
	if err != nil || res.Copied != 0 || res.Skipped != n {
		t.Errorf("second export: copied %d, skipped %d, %v", res.Copied, res.Skipped, err)
	}
}

// TestResumePostgres interrupts an export into PostgreSQL at a few writes
// and resumes it.
func TestResumePostgres(t *testing.T) {
	ctx := context.Background()
	files := openFiles(t)
	n := fill(t, files)
	for _, failAt := range []int{1, 7, 12, 18} {
		pg := openPG(t)
		_, err := Copy(ctx, files, &faultyStore{MessageStore: pg, failAt: failAt}, Options{Mailboxes: mailboxes(), Workers: 1})
		if err == nil {
			t.Fatalf("fail at %d: no error", failAt)
		}
		res, err := Copy(ctx, files, pg, Options{Mailboxes: mailboxes()})
		if err != nil {
			t.Fatalf("fail at %d: resumed: %v", failAt, err)
		}
		if res.Copied+res.Skipped != n || res.Skipped == 0 && failAt > 1 {
			t.Errorf("fail at %d: copied %d, skipped %d of %d", failAt, res.Copied, res.Skipped, n)
		}
		sameMail(t, files, pg)
	}
}
