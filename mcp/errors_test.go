package mcp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// faultyStore is a real store whose List fails with an error naming a
// file, and whose Counts panics.
type faultyStore struct {
	storage.MessageStore
	path string
}

func (f faultyStore) List(context.Context, storage.ListQuery) (*storage.ListResult, error) {
	return nil, fmt.Errorf("list: open %s: permission denied", f.path)
}

func (f faultyStore) Counts(context.Context, storage.MailboxRef) (storage.Counts, error) {
	panic("counts: corrupt index at " + f.path)
}

// pathyConfig fails every config change with an error that names the
// config file: the door must not pass it on.
type pathyConfig struct{ path string }

func (p pathyConfig) Update(func(*domains.Config) error) (*domains.Config, error) {
	return nil, fmt.Errorf("could not rewrite %s: read-only file system", p.path)
}

// No error that reaches an agent carries a file path: internal errors,
// refusals that name a server path by mistake and panics all answer the
// generic sentence; the log has the detail.
func TestM7_NoPathReachesAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var log bytes.Buffer
	counter := &panics.Counter{}
	secret := filepath.Join(e.data, dom, "inbox", "support", "2026-secret.md")
	e.srv = NewServer(Deps{Registry: e.reg, Store: faultyStore{MessageStore: e.store, path: secret}, Mailboxes: e.ops,
		Hooks: &operations.Hooks{Config: pathyConfig{path: e.cfgPath}}, Log: zerolog.New(&log), Panics: counter,
		PrivatePaths: []string{filepath.Dir(e.cfgPath)}})
	cl := e.client(protocolVersions[1])
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"email_list", map[string]any{"mailbox": support}},
		{"hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "x"}},
		{"mailbox_list", nil}, // panics
	} {
		r := e.callAs(cl, alice, tc.tool, tc.args).fails(t, "internal error")
		for _, leak := range []string{secret, e.cfgPath, e.data, filepath.Dir(e.cfgPath), "/tmp"} {
			if strings.Contains(r.text, leak) {
				t.Errorf("%s: %q leaks %q", tc.tool, r.text, leak)
			}
		}
	}
	if !strings.Contains(log.String(), secret) || !strings.Contains(log.String(), e.cfgPath) {
		t.Errorf("the log lacks the detail:\n%s", log.String())
	}
	if counter.Count() != 1 || !strings.Contains(log.String(), `"stack"`) {
		t.Errorf("panic count %d, log:\n%s", counter.Count(), log.String())
	}
	// The connection survived the panic.
	e.callAs(cl, alice, "hook_list", nil).ok(t)
}

// A panicking tool is an error result for that call, logged with its stack
// and counted; the session goes on.
func TestPanics_ToolHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var log bytes.Buffer
	counter := &panics.Counter{}
	e.srv = NewServer(Deps{Registry: e.reg, Store: faultyStore{MessageStore: e.store, path: "x"}, Mailboxes: e.ops,
		Log: zerolog.New(&log), Panics: counter})
	cl := e.client(protocolVersions[0])
	for i := range 2 {
		e.callAs(cl, alice, "mailbox_list", nil).fails(t, "aimx could not complete mailbox_list because of an internal error")
		if counter.Count() != int64(i+1) {
			t.Fatalf("count = %d after %d panics", counter.Count(), i+1)
		}
	}
	if !strings.Contains(log.String(), "recovered from panic") || !strings.Contains(log.String(), "mcp tool mailbox_list") {
		t.Errorf("log: %s", log.String())
	}
	e.callAs(cl, alice, "hook_list", nil).ok(t)
}

// A panic while serving an HTTP request is a 500 for that request, logged
// and counted; the server carries on.
func TestPanics_HTTPRequest(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	counter := &panics.Counter{}
	h := recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("boom")
		}
		fmt.Fprint(w, "fine")
	}), counter, zerolog.New(&log), "mcp http")
	ts := httptest.NewServer(h)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || counter.Count() != 1 {
		t.Fatalf("status %d, count %d", resp.StatusCode, counter.Count())
	}
	resp, err = http.Get(ts.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fine" || !strings.Contains(log.String(), `"where":"mcp http GET /boom"`) {
		t.Fatalf("after the panic: %q; log %s", body, log.String())
	}
}
