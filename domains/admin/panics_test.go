package admin

import (
	"context"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/storage"
)

type panicStore struct{ storage.MessageStore }

func (panicStore) Counts(context.Context, storage.MailboxRef) (storage.Counts, error) {
	panic("index corrupt")
}

// A panic in an operator request is a 500 internal error for that request,
// logged with its stack and counted in /v1/status; the API carries on.
func TestPanics_AdminAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	counter := &panics.Counter{}
	f.admin.Panics = counter
	f.admin.Store = panicStore{f.store}
	status, body := f.request(t, "GET", "/v1/mailboxes", "")
	if status != 500 || !strings.Contains(body, `"code": "internal"`) || strings.Contains(body, "index corrupt") {
		t.Fatalf("%d %s", status, body)
	}
	if counter.Count() != 1 {
		t.Fatalf("count %d", counter.Count())
	}
	f.admin.Store = f.store
	if status, body := f.request(t, "GET", "/v1/mailboxes", ""); status != 200 {
		t.Fatalf("after the panic: %d %s", status, body)
	}
	st, err := f.client.DaemonStatus(context.Background())
	if err != nil || st.Panics != 1 {
		t.Fatalf("status %+v %v", st, err)
	}
}
