package mcp

import (
	"context"
	"sync"
	"testing"
	"time"
)

// toolRecorder is a ToolObserver keeping "tool result" pairs.
type toolRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *toolRecorder) ToolCall(tool, result string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		result += " negative duration"
	}
	r.got = append(r.got, tool+" "+result)
}

// TestObserverSeesEveryCall checks the result each kind of ending is
// told as: an answer, a refusal, an internal error and a panic.
func TestObserverSeesEveryCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := &toolRecorder{}
	e.srv = NewServer(Deps{Registry: e.reg, Store: faultyStore{MessageStore: e.store, path: "x"}, Mailboxes: e.ops, Metrics: rec})
	cl := e.client(protocolVersions[0])
	e.callAs(cl, alice, "hook_list", nil).ok(t)
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "nobody@" + dom}).fails(t, "")
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support}).fails(t, "internal error")
	e.callAs(cl, alice, "mailbox_list", nil).fails(t, "internal error") // Counts panics
	e.callCtx(cl, context.Background(), "hook_list", nil)               // no caller
	want := []string{
		"hook_list " + ToolResultOK,
		"email_list " + ToolResultRefused,
		"email_list " + ToolResultError,
		"mailbox_list " + ToolResultError,
		"hook_list " + ToolResultRefused,
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != len(want) {
		t.Fatalf("observed %q, want %q", rec.got, want)
	}
	for i := range want {
		if rec.got[i] != want[i] {
			t.Errorf("call %d observed %q, want %q", i, rec.got[i], want[i])
		}
	}
}
