package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// storedMessage is one message file as a user finds it on disk.
type storedMessage struct {
	MDPath  string
	EMLPath string
	FM      map[string]any
	Body    string
}

// readMessages returns every committed message (.md) under a mailbox's
// inbox dir, in name order, reading the files directly like an operator.
func readMessages(t testing.TB, dataDir, domain, local string) []storedMessage {
	t.Helper()
	dir := filepath.Join(dataDir, domain, "inbox", local)
	var out []storedMessage
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		md := filepath.Join(dir, name)
		if e.IsDir() {
			md = filepath.Join(dir, name, name+".md")
		} else if !strings.HasSuffix(name, ".md") {
			continue
		}
		data, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, parseMD(t, md, data))
	}
	return out
}

func parseMD(t testing.TB, path string, data []byte) storedMessage {
	t.Helper()
	s := string(data)
	if !strings.HasPrefix(s, "+++\n") {
		t.Fatalf("%s: no frontmatter", path)
	}
	end := strings.Index(s[4:], "\n+++\n")
	if end < 0 {
		t.Fatalf("%s: unterminated frontmatter", path)
	}
	fm := map[string]any{}
	if err := toml.Unmarshal([]byte(s[4:4+end+1]), &fm); err != nil {
		t.Fatalf("%s: frontmatter: %v", path, err)
	}
	return storedMessage{MDPath: path, EMLPath: strings.TrimSuffix(path, ".md") + ".eml", FM: fm,
		Body: strings.TrimPrefix(s[4+end+5:], "\n")}
}
