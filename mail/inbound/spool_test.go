package inbound

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

// bigMessage is a CRLF message of about size bytes: a short text body and
// one base64 attachment.
func bigMessage(msgID string, size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Sender <sender@example.org>\r\nTo: support@agent.example.com\r\n")
	b.WriteString("Subject: big\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + msgID + ">\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n")
	b.WriteString("--xx\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n")
	b.WriteString("--xx\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n")
	b.WriteString("Content-Disposition: attachment; filename=blob.bin\r\n\r\n")
	raw := bytes.Repeat([]byte("0123456789abcdef"), size*3/4/16)
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--xx--\r\n")
	return b.Bytes()
}

// streamCheck records whether any PutRequest carried message bytes in
// memory instead of streaming them from a Source.
type streamCheck struct {
	storage.MessageStore
	mu       sync.Mutex
	inMemory []string
	puts     int
}

func (s *streamCheck) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	s.mu.Lock()
	s.puts++
	if req.Raw != nil || req.RawFrom == nil {
		s.inMemory = append(s.inMemory, "raw")
	}
	if req.Body != "" {
		s.inMemory = append(s.inMemory, "body")
	}
	for _, a := range req.Attachments {
		if a.Data != nil || a.From == nil {
			s.inMemory = append(s.inMemory, "attachment "+a.Filename)
		}
	}
	s.mu.Unlock()
	return s.MessageStore.Put(ctx, req)
}

// TestH2_CopiesStreamFromTheSpool: every mailbox's .eml, body and
// attachment are handed to the store as Sources over the spool, never as
// per-mailbox byte slices, the stored bytes are exact, and the spool
// leaves nothing behind.
func TestH2_CopiesStreamFromTheSpool(t *testing.T) {
	t.Parallel()
	check := &streamCheck{}
	e := newEnv(t, envOpts{wrap: func(s storage.MessageStore) storage.MessageStore {
		check.MessageStore = s
		return check
	}})
	msg := bigMessage("big-1@example.org", 256<<10)
	rc := dialRaw(t, e.addr)
	rc.greet()
	if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com", "info@other.example.com"}, msg); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	if check.puts != 2 || len(check.inMemory) > 0 {
		t.Fatalf("%d puts; held in memory: %v", check.puts, check.inMemory)
	}
	for _, name := range []string{"support@agent.example.com", "info@other.example.com"} {
		m := e.only(name)
		if eml := e.eml(m); !bytes.HasSuffix(eml, msg) {
			t.Errorf("%s: .eml does not end with the bytes sent", name)
		}
		if want := int64((256 << 10) * 3 / 4 / 16 * 16); len(m.Frontmatter.Attachments) != 1 || m.Frontmatter.Attachments[0].Size != want {
			t.Errorf("%s: attachments %+v", name, m.Frontmatter.Attachments)
		}
		if !strings.Contains(m.Body, "see attached") {
			t.Errorf("%s: body %q", name, m.Body)
		}
	}
	ents, err := os.ReadDir(e.spoolDir)
	if err != nil {
		t.Fatalf("spool dir: %v", err)
	}
	if len(ents) != 0 {
		t.Errorf("spool dir holds %d entries after the transaction", len(ents))
	}
}

// TestH2_DeliveryAllocatesLessThanTheMessage: receiving, parsing,
// verifying and storing a 4 MiB message for three mailboxes allocates
// less than the message's size in all (the old path read it whole, then
// copied it for every stage and every mailbox: 7x to 19x).
func TestH2_DeliveryAllocatesLessThanTheMessage(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	e := newEnv(t, envOpts{})
	msg := bigMessage("alloc-1@example.org", 4<<20)
	data := append(append([]byte(nil), msg...), ".\r\n"...)
	rc := dialRaw(t, e.addr)
	rc.greet()
	rc.cmd("MAIL FROM:<a@example.org>", 250, "")
	for _, r := range []string{"support@agent.example.com", "info@other.example.com", "agent@aimx.example.com"} {
		rc.cmd("RCPT TO:<"+r+">", 250, "")
	}
	rc.cmd("DATA", 354, "")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := rc.c.Write(data); err != nil {
		t.Fatal(err)
	}
	rc.expect(250, "")
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes for a %d-byte message", got, len(msg))
	if got >= uint64(len(msg)) {
		t.Errorf("allocated %d bytes for a %d-byte message", got, len(msg))
	}
}

// TestH2_HeaderTooLarge: a header block over message.MaxHeaderBytes is
// refused, not held.
func TestH2_HeaderTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	var b bytes.Buffer
	for b.Len() < 1<<20+100 {
		b.WriteString("X-Filler: " + strings.Repeat("y", 200) + "\r\n")
	}
	b.WriteString("From: a@example.org\r\n\r\nbody\r\n")
	rc := dialRaw(t, e.addr)
	rc.greet()
	if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, b.Bytes()); code != 552 {
		t.Fatalf("reply %d %s, want 552", code, text)
	}
}

// panicStore panics in Put.
type panicStore struct{ storage.MessageStore }

func (panicStore) Put(context.Context, storage.PutRequest) (*storage.Stored, error) {
	panic("store exploded")
}

// TestPanics_StoreRecoveredLoggedCounted: a panic while storing fails the
// transaction with 451, is logged with its stack and counted.
func TestPanics_StoreRecoveredLoggedCounted(t *testing.T) {
	t.Parallel()
	counter := &panics.Counter{}
	e := newDeliverEnv(t, envOpts{
		wrap:    func(s storage.MessageStore) storage.MessageStore { return panicStore{s} },
		deliver: func(c *Config) { c.Panics = counter },
	})
	_, err := e.del.Deliver(context.Background(), Envelope{Recipients: []string{"support@agent.example.com"}},
		simpleMessage("p@example.org", "p", "x\r\n"))
	var oe interface{ Temporary() bool }
	if !errors.As(err, &oe) || !oe.Temporary() {
		t.Fatalf("deliver: %v, want a temporary failure", err)
	}
	if counter.Count() != 1 {
		t.Errorf("counted %d panics, want 1", counter.Count())
	}
	if log := e.log.String(); !strings.Contains(log, "store exploded") || !strings.Contains(log, `"stack"`) {
		t.Errorf("log lacks the panic and its stack:\n%s", log)
	}
}

// TestSpoolKeepsSmallMailInMemoryAndSpillsLarge: DATA up to spoolMemBytes
// stays in memory (no inode per message), larger DATA moves to an unnamed
// file as it arrives, and both read back exactly; the scratch does the
// same, and sources handed out before a spill stay valid.
func TestSpoolKeepsSmallMailInMemoryAndSpillsLarge(t *testing.T) {
	t.Parallel()
	d := &Deliverer{spoolDir: t.TempDir()}
	for _, size := range []int{1 << 10, spoolMemBytes, spoolMemBytes + 1, 3 * spoolMemBytes} {
		sp, err := d.NewSpool()
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("abcdefg\r\n"), size/9+1)[:size]
		for chunk := data; len(chunk) > 0; {
			n := min(len(chunk), 4096)
			if _, err := sp.Write(chunk[:n]); err != nil {
				t.Fatal(err)
			}
			chunk = chunk[n:]
		}
		if spilled := sp.f != nil; spilled != (size > spoolMemBytes) {
			t.Errorf("size %d: spilled = %v", size, spilled)
		}
		src, err := sp.source()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: read back %d bytes, %v", size, len(got), err)
		}
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
	}
	sc := spoolScratch{file: fileScratch{dir: t.TempDir()}}
	small, err := sc.Append(strings.NewReader("small part"))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", spoolMemBytes)
	large, err := sc.Append(strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for want, src := range map[string]message.Source{"small part": small, big: large} {
		got, _ := io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
		if string(got) != want {
			t.Errorf("scratch read back %d bytes, want %d", len(got), len(want))
		}
	}
	if sc.file.f == nil {
		t.Error("the large part did not go to the file")
	}
}
