package inbound

import (
	"slices"
	"sync"
	"testing"
)

// recordingObserver keeps every TransactionResult it is told.
type recordingObserver struct {
	mu  sync.Mutex
	got []TransactionResult
}

func (r *recordingObserver) ObserveTransaction(t TransactionResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, t)
}

func (r *recordingObserver) results() []TransactionResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestObserverSeesEveryTransaction drives an accepted message, its
// re-delivery (deduplicated), a refused one and an aborted transaction
// through the server and checks what the observer was told: the observer
// runs before the reply is sent, so each is there once the reply is read.
func TestObserverSeesEveryTransaction(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	e := newEnv(t, envOpts{server: func(c *ServerConfig) { c.Observer = obs }})
	rc := dialRaw(t, e.addr)
	rc.greet()
	msg := simpleMessage("obs-1@example.org", "observed", "hi\r\n")
	rcpt := []string{"support@agent.example.com"}
	if code, _ := rc.sendRaw("s@example.org", rcpt, msg); code != 250 {
		t.Fatalf("first delivery: %d", code)
	}
	if code, _ := rc.sendRaw("s@example.org", rcpt, msg); code != 250 {
		t.Fatalf("re-delivery: %d", code)
	}
	// A message with a NUL byte is refused (book/smtp.md, DATA checks).
	if code, _ := rc.sendRaw("s@example.org", rcpt, []byte("Subject: x\r\n\r\na\x00b\r\n")); code < 500 {
		t.Fatalf("NUL message: %d, want a 5xx refusal", code)
	}
	rc.cmd("MAIL FROM:<s@example.org>", 250, "")
	rc.cmd("RSET", 250, "")
	got := obs.results()
	if len(got) != 4 {
		t.Fatalf("observer told %d transactions, want 4: %+v", len(got), got)
	}
	if r := got[0]; r.Code != 250 || r.Duplicate || !r.Verified || r.DKIM == "" || r.SPF == "" || r.DMARC == "" {
		t.Errorf("accepted: %+v", r)
	}
	if r := got[1]; r.Code != 250 || !r.Duplicate {
		t.Errorf("re-delivery: %+v, want a 250 duplicate", r)
	}
	if r := got[2]; r.Code < 500 || r.Duplicate {
		t.Errorf("refused: %+v", r)
	}
	if r := got[3]; r.Code != 0 {
		t.Errorf("aborted: %+v, want code 0", r)
	}
}

func TestObserveTxNil(t *testing.T) {
	observeTx(nil, nil, nil) // no observer: nothing happens, nothing panics
}
