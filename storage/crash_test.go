package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var errCrash = errors.New("simulated crash")

// crashPoint names one fault: the n-th call of the Writer's fault seam.
// Enumerating calls covers every step of every file of the message (the
// attachments, the .eml, the .md, the bundle dir fsync, its publish and the
// group-committed folder fsync).
func faultAt(n int) (*Writer, *[]string) {
	var seen []string
	calls := 0
	w := &Writer{Fault: func(step Step, path string) error {
		calls++
		seen = append(seen, fmt.Sprintf("%s %s", step, path))
		if calls == n {
			return errCrash
		}
		return nil
	}}
	return w, &seen
}

// TestCrashNeverShowsHalfMessage: for every fault point of a flat and a
// bundled Put, listing afterwards shows nothing or the whole message, and
// a later Put (same store, and a restarted one) still works.
func TestCrashNeverShowsHalfMessage(t *testing.T) {
	t.Parallel()
	raw := []byte("Subject: crash\r\n\r\nraw body\r\n")
	cases := map[string][]Attachment{
		"flat":   nil,
		"bundle": {{Filename: "a.txt", ContentType: "text/plain", Data: []byte("aaa")}, {Filename: "b.bin", Data: []byte("bbbb")}},
	}
	for name, atts := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Count the fault points of a clean run first.
			w, seen := faultAt(-1)
			s, _ := openTestStore(t, Options{Writer: w})
			putMsg(t, s, PutRequest{Frontmatter: inboundFM("warm"), Body: "b"})
			*seen = nil
			putMsg(t, s, PutRequest{Raw: raw, Frontmatter: inboundFM("crash"), Body: "body", Attachments: atts})
			points := len(*seen)
			wantMin := 2*4 + 1 // .eml and .md: create, write, fsync, link; plus the shared folder fsync
			if atts != nil {
				wantMin += len(atts)*4 + 2 // attachment steps (dir sync batched), tmp dir fsync, publish
			}
			if points < wantMin {
				t.Fatalf("only %d fault points: %v", points, *seen)
			}
			for n := 1; n <= points; n++ {
				w, seen := faultAt(-1)
				s, dir := openTestStore(t, Options{Writer: w})
				putMsg(t, s, PutRequest{Frontmatter: inboundFM("warm"), Body: "b"})
				calls := 0
				w.Fault = func(step Step, path string) error {
					calls++
					*seen = append(*seen, step.String()+" "+path)
					if calls == n {
						return errCrash
					}
					return nil
				}
				_, err := s.Put(context.Background(), PutRequest{Mailbox: testRef, Folder: Inbox, Raw: raw,
					Frontmatter: inboundFM("crash"), Body: "body", Attachments: atts})
				if !errors.Is(err, errCrash) {
					t.Fatalf("fault %d (%s): Put err = %v", n, (*seen)[n-1], err)
				}
				w.Fault = nil
				checkWholeOrNothing(t, s, raw, atts, (*seen)[n-1])
				// The same store and a restarted one both keep storing.
				putMsg(t, s, PutRequest{Raw: raw, Frontmatter: inboundFM("crash"), Body: "body", Attachments: atts})
				s2, err := Open(dir, Options{Now: fixedClock(t0)})
				if err != nil {
					t.Fatal(err)
				}
				putMsg(t, s2, PutRequest{Raw: raw, Frontmatter: inboundFM("crash"), Body: "body", Attachments: atts})
				res, err := s2.List(context.Background(), ListQuery{Mailbox: testRef, Subject: "crash"})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range res.Messages {
					checkMessage(t, s2, m.ID, raw, atts, (*seen)[n-1])
				}
			}
		})
	}
}

func checkWholeOrNothing(t *testing.T, s *Store, raw []byte, atts []Attachment, at string) {
	t.Helper()
	res, err := s.List(context.Background(), ListQuery{Mailbox: testRef, Subject: "crash"})
	if err != nil {
		t.Fatalf("after fault at %s: list: %v", at, err)
	}
	if res.Total > 1 {
		t.Fatalf("after fault at %s: %d messages", at, res.Total)
	}
	for _, m := range res.Messages {
		checkMessage(t, s, m.ID, raw, atts, at)
	}
}

func checkMessage(t *testing.T, s *Store, id string, raw []byte, atts []Attachment, at string) {
	t.Helper()
	m, err := s.Read(context.Background(), testRef, Inbox, id)
	if err != nil {
		t.Fatalf("after fault at %s: visible message %s unreadable: %v", at, id, err)
	}
	paths := pathsOf(t, s, testRef, Inbox, id)
	if m.Body != "body\n" || paths.EML == "" || len(m.Frontmatter.Attachments) != len(atts) {
		t.Fatalf("after fault at %s: partial message %s: %+v", at, id, m)
	}
	if b, err := readFileBytes(paths.EML); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("after fault at %s: .eml of %s: %q %v", at, id, b, err)
	}
	for i, a := range m.Frontmatter.Attachments {
		b, err := readFileBytes(paths.Bundle + "/" + a.Path)
		if err != nil || !bytes.Equal(b, atts[i].Data) {
			t.Fatalf("after fault at %s: attachment %s: %q %v", at, a.Path, b, err)
		}
	}
	if strings.HasPrefix(id, ".") {
		t.Fatalf("dot-name listed: %s", id)
	}
}
