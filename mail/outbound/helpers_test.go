package outbound

import (
	"bytes"
	"flag"
	"io"
	"math/rand/v2"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

// update rewrites the golden files: go test ./mail/outbound/ -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixedTime is the clock of every deterministic composition.
var fixedTime = time.Date(2026, 11, 2, 9, 41, 7, 0, time.UTC)

// testComposer is a Composer whose output depends only on the request.
func testComposer() *Composer {
	return &Composer{
		Now:  func() time.Time { return fixedTime },
		Rand: rand.NewChaCha8([32]byte{'a', 'i', 'm', 'x'}),
	}
}

// fixtures is the shared test data at the repository root.
const fixtures = "../../testdata/fixtures"

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/golden/name, or rewrites it with
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking the change)\n--- got ---\n%s", name, got)
	}
}

// part is one decoded leaf of a MIME message.
type part struct {
	mediaType string
	params    map[string]string
	disp      string
	dispParms map[string]string
	body      string
}

// leaves decodes raw with go-message and returns its leaf parts in order,
// and the media type of every entity on the way (depth first).
func leaves(t *testing.T, raw []byte) (parts []part, types []string) {
	t.Helper()
	ent, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		mt, params, _ := e.Header.ContentType()
		types = append(types, mt)
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("next part: %v", err)
				}
				walk(p)
			}
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		disp, dp, _ := mime.ParseMediaType(e.Header.Get("Content-Disposition"))
		parts = append(parts, part{mediaType: mt, params: params, disp: disp, dispParms: dp, body: string(b)})
	}
	walk(ent)
	return parts, types
}

// headerBlock is the header section of raw.
func headerBlock(raw []byte) string {
	s := string(raw)
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return s[:i+2]
	}
	return s
}
