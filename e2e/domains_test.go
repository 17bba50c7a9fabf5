package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// owner is the user the test's mailboxes belong to: root in CI, else the
// user running the tests.
func owner() string {
	if os.Geteuid() == 0 || os.Getenv("USER") == "" {
		return "root"
	}
	return os.Getenv("USER")
}

func TestDomainsAddSendRemove(t *testing.T) {
	t.Parallel()
	relay := startSink(t, nil)
	d, _ := startSender(t, relay, nil)

	// A second domain, live at once: its catchall takes mail right away.
	out, errOut, code := d.CLI("domains", "add", "Second.localhost", "--selector", "s2", "--catchall-owner", owner())
	if code != 0 {
		t.Fatalf("domains add: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"10 agent.localhost.", `"v=spf1 mx -all"`, "s2._domainkey.second.localhost.",
		`"v=DMARC1; p=none; rua=mailto:postmaster@second.localhost"`} {
		if !strings.Contains(out, want) {
			t.Errorf("add output lacks %q:\n%s", want, out)
		}
	}
	msg := "From: a@example.org\r\nTo: x@second.localhost\r\nSubject: first\r\nMessage-ID: <first@example.org>\r\n\r\nhi\r\n"
	if err := d.Deliver("a@example.org", []string{"x@second.localhost"}, []byte(msg)); err != nil {
		t.Fatalf("delivery to the new domain: %v", err)
	}
	if _, errOut, code := d.CLI("mailboxes", "create", "info@second.localhost", "--owner", owner()); code != 0 {
		t.Fatalf("mailbox on the new domain: %s", errOut)
	}
	var list struct {
		Domains []struct {
			Domain       string `json:"domain"`
			Default      bool   `json:"default"`
			DKIMLoaded   bool   `json:"dkim_loaded"`
			DKIMSelector string `json:"dkim_selector"`
			Mailboxes    int    `json:"mailboxes"`
			Unread       int    `json:"unread"`
		} `json:"domains"`
	}
	out, _, _ = d.CLI("--json", "domains", "list")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Domains) != 2 {
		t.Fatalf("domains list: %v %s", err, out)
	}
	if sd := list.Domains[1]; sd.Domain != "second.localhost" || sd.Default || !sd.DKIMLoaded || sd.DKIMSelector != "s2" || sd.Mailboxes != 2 || sd.Unread != 1 {
		t.Fatalf("second domain row %+v", sd)
	}

	// Sending from it signs with its own key and selector.
	if out, errOut, code := d.CLI("send", "--from", "info@second.localhost", "--to", "bob@example.org", "--subject", "from two", "--body", "hi"); code != 0 {
		t.Fatalf("send: %s %s", out, errOut)
	}
	got := relay.waitMessages(t, 1)[0]
	verifySelector(t, d, got.Data, "second.localhost", "s2")

	// Refusals: mailboxes block, listed sorted; the last domain stays.
	_, errOut, code = d.CLI("domains", "remove", "second.localhost")
	if code == 0 || !strings.Contains(errOut, "*@second.localhost, info@second.localhost") {
		t.Fatalf("remove without --force: %d %s", code, errOut)
	}

	// Remove it with --force while mail keeps arriving for the surviving
	// domain: every one of those deliveries succeeds and is stored.
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := fmt.Sprintf("From: a@example.org\r\nTo: hello@agent.localhost\r\nSubject: busy %d-%d\r\nMessage-ID: <busy-%d-%d@example.org>\r\n\r\nx\r\n", w, i, w, i)
				if err := d.Deliver("a@example.org", []string{"hello@agent.localhost"}, []byte(m)); err != nil {
					t.Errorf("delivery to the surviving domain: %v", err)
					failed.Add(1)
					return
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // some deliveries before the removal starts
	out, errOut, code = d.CLI("domains", "remove", "second.localhost", "--force")
	time.Sleep(200 * time.Millisecond) // and some after
	close(stop)
	wg.Wait()
	if code != 0 || !strings.Contains(out, "Its DKIM keys are kept in") {
		t.Fatalf("remove --force: %d %s %s", code, out, errOut)
	}
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("surviving-domain deliveries: %d ok, %d failed", ok.Load(), failed.Load())
	}
	stored := countFiles(t, filepath.Join(d.DataDir(), "agent.localhost", "inbox", "hello"), ".md")
	if int64(stored) != ok.Load() {
		t.Fatalf("%d deliveries answered 250, %d stored", ok.Load(), stored)
	}
	if _, err := os.Stat(filepath.Join(d.DataDir(), "second.localhost")); !os.IsNotExist(err) {
		t.Fatalf("the removed domain's storage is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "dkim", "second.localhost", "private.key")); err != nil {
		t.Fatalf("the key was not kept: %v", err)
	}
	if err := d.Deliver("a@example.org", []string{"x@second.localhost"}, []byte(msg)); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("the removed domain still takes mail: %v", err)
	}
	_, errOut, code = d.CLI("domains", "remove", "agent.localhost", "--force")
	if code == 0 || !strings.Contains(errOut, "only domain") {
		t.Fatalf("last domain: %d %s", code, errOut)
	}
}

func TestDomainAddedByHandGetsAKeyAtReload(t *testing.T) {
	t.Parallel()
	d, _ := startSender(t, nil, nil)
	path := filepath.Join(d.Dir, "config.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `domains = ["agent.localhost"]`, `domains = ["agent.localhost", "third.localhost"]`, 1)
	if edited == string(b) {
		t.Fatalf("config has no domains line:\n%s", b)
	}
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := d.CLI("reload"); code != 0 {
		t.Fatalf("reload: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "dkim", "third.localhost", "private.key")); err != nil {
		t.Fatalf("no key made for the hand-added domain: %v", err)
	}
	out, _, _ := d.CLI("domains", "list")
	if !strings.Contains(out, "third.localhost") || strings.Contains(out, "missing") {
		t.Fatalf("domains list after reload:\n%s", out)
	}
	if !strings.Contains(d.Stderr()+d.Stdout(), "generated a DKIM key for a domain added to config.toml") {
		t.Error("the generated key was not logged")
	}
}

// verifySelector checks data's DKIM signature by domain under selector
// against the dev dir's key for that domain.
func verifySelector(t *testing.T, d *Daemon, data []byte, domain, selector string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(d.Dir, "dkim", domain, "public.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	txt := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(block.Bytes)
	lookup := func(name string) ([]string, error) {
		if name == selector+"._domainkey."+domain {
			return []string{txt}, nil
		}
		return nil, fmt.Errorf("no TXT record for %s", name)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) == 0 {
		t.Fatalf("dkim verify: %v (%d signatures)", err, len(vs))
	}
	if vs[0].Err != nil || vs[0].Domain != domain {
		t.Fatalf("first signature d=%s: %v", vs[0].Domain, vs[0].Err)
	}
}

// countFiles counts the files in dir ending in suffix.
func countFiles(t *testing.T, dir, suffix string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Name(), suffix) && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}
