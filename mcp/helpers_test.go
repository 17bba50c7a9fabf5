package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// Protocol versions every client-facing test runs on (book/mcp.md).
var protocolVersions = []string{mcpgo.ProtocolVersion20251125, mcpgo.ProtocolVersion20260728}

const (
	dom      = "agent.example.com"
	dom2     = "other.example.net"
	support  = "support@" + dom
	billing  = "billing@" + dom
	catchall = "*@" + dom
	sales    = "sales@" + dom2
)

// Callers of the tests: alice owns support and the catchall, bob owns
// billing and sales.
var (
	alice    = Caller{Owner: "alice", AllowHooks: true}
	bob      = Caller{Owner: "bob", AllowHooks: true}
	operator = Caller{Owner: "root", Operator: true, AllowHooks: true}
)

// env is one server over a temp config and data dir.
type env struct {
	t        *testing.T
	cfgPath  string
	data     string
	reg      *domains.Registry
	store    *storage.Store
	ops      *operations.Mailboxes
	queue    *outbound.FileQueue
	sender   *operations.Sender
	srv      *Server
	validate map[string]*jsonschema.Schema // strict output schemas by tool
}

// testKeys is one RSA key per test domain, generated once per run.
var testKeys struct {
	once sync.Once
	ring *dkimkey.Keyring
	err  error
}

// testKeyring holds DKIM keys for dom and dom2.
func testKeyring(t testing.TB) *dkimkey.Keyring {
	t.Helper()
	testKeys.once.Do(func() {
		ks := dkimkey.NewStore(t.TempDir())
		testKeys.ring = dkimkey.NewKeyring()
		for _, d := range []string{dom, dom2} {
			k, err := ks.Generate(d, dkimkey.RSA, false)
			if err != nil {
				testKeys.err = err
				return
			}
			testKeys.ring.Publish(&dkimkey.KeySet{Domain: d, RSA: k})
		}
	})
	if testKeys.err != nil {
		t.Fatal(testKeys.err)
	}
	return testKeys.ring
}

// testOwners resolves the test users to the current uid, so chown works
// as root and is skipped otherwise.
func testOwners(name string) (domains.Owner, error) {
	switch name {
	case "alice", "bob", "carol", "root":
		return domains.Owner{Name: name, UID: os.Getuid(), GID: os.Getgid(), Home: "/"}, nil
	}
	return domains.Owner{}, fmt.Errorf("user %s: unknown user", name)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := domains.Default(dom, dom2)
	cfg.Mailboxes = map[string]domains.Mailbox{
		support:  {Name: support, Owner: "alice"},
		catchall: {Name: catchall, Owner: "alice"},
		billing:  {Name: billing, Owner: "bob", Trust: domains.Ptr(domains.Trust("none"))},
		sales:    {Name: sales, Owner: "bob"},
	}
	e := &env{t: t, cfgPath: filepath.Join(dir, "config.toml"), data: filepath.Join(dir, "data")}
	if err := domains.Save(e.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	loaded, err := domains.Load(e.cfgPath, domains.LoadOptions{LookupOwner: testOwners})
	if err != nil {
		t.Fatal(err)
	}
	// No delivery worker runs here: a send returns at once with every
	// recipient queued (send_tools_test.go).
	loaded.Outbound.SendWait = domains.Duration(time.Millisecond)
	e.reg = domains.NewRegistry(loaded)
	e.store, err = storage.Open(e.data, storage.Options{Writer: &storage.Writer{}})
	if err != nil {
		t.Fatal(err)
	}
	cfgStore := &domains.Store{Path: e.cfgPath, Options: domains.LoadOptions{LookupOwner: testOwners}}
	changer := &domains.Changer{Store: cfgStore, Registry: e.reg}
	e.ops = &operations.Mailboxes{Config: changer, Store: e.store, LookupOwner: testOwners}
	hookAdmin := &operations.Hooks{Config: changer}
	e.queue, err = outbound.OpenFileQueue(filepath.Join(dir, "queue"), outbound.FileQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.queue.Close() })
	e.sender = &operations.Sender{Registry: e.reg, Store: e.store, Keys: testKeyring(t), Queue: e.queue}
	e.srv = NewServer(Deps{Registry: e.reg, Store: e.store, Mailboxes: e.ops, Hooks: hookAdmin, Sender: e.sender,
		Drafts: &operations.Drafts{Store: e.store, Queue: e.queue}})
	e.validate = map[string]*jsonschema.Schema{}
	for _, tool := range e.srv.Tools() {
		e.validate[tool.Name] = compileStrict(t, tool.Name, tool.RawOutputSchema)
	}
	return e
}

// compileStrict compiles an output schema with additionalProperties false
// added to every object that does not say otherwise, so a result field
// the schema does not describe fails too.
func compileStrict(t testing.TB, name string, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s output schema: %v", name, err)
	}
	strictify(doc)
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name+".json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(name + ".json")
	if err != nil {
		t.Fatalf("%s output schema does not compile: %v", name, err)
	}
	return sch
}

func strictify(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "object" {
			if _, ok := x["additionalProperties"]; !ok {
				x["additionalProperties"] = false
			}
		}
		for _, e := range x {
			strictify(e)
		}
	case []any:
		for _, e := range x {
			strictify(e)
		}
	}
}

// client returns an in-process mcp-go client speaking version.
func (e *env) client(version string) *client.Client {
	e.t.Helper()
	c, err := client.NewInProcessClientWithOptions(e.srv.MCP(), client.WithProtocolVersion(version))
	if err != nil {
		e.t.Fatal(err)
	}
	initClient(e.t, c, version)
	return c
}

func initClient(t testing.TB, c *client.Client, version string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-test", Version: "1"}
	init.Params.ProtocolVersion = version
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize %s: %v", version, err)
	}
	if res.ProtocolVersion != version {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, version)
	}
}

// result is one tool call's outcome as the agent sees it.
type result struct {
	isError    bool
	text       string         // the first text content
	structured map[string]any // structuredContent as JSON
}

// callAs calls a tool as who through cl; a success's structured content
// is validated against the tool's output schema.
func (e *env) callAs(cl *client.Client, who Caller, tool string, args map[string]any) result {
	e.t.Helper()
	return e.callCtx(cl, WithCaller(context.Background(), who), tool, args)
}

func (e *env) callCtx(cl *client.Client, ctx context.Context, tool string, args map[string]any) result {
	e.t.Helper()
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	if args == nil {
		args = map[string]any{}
	}
	req.Params.Arguments = args
	res, err := cl.CallTool(ctx, req)
	if err != nil {
		e.t.Fatalf("%s: protocol error: %v", tool, err)
	}
	return e.check(tool, res)
}

// check turns a result into the test's view and validates it.
func (e *env) check(tool string, res *mcpgo.CallToolResult) result {
	e.t.Helper()
	r := result{isError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			r.text = tc.Text
			break
		}
	}
	if r.text == "" {
		e.t.Fatalf("%s: no text content in %+v", tool, res)
	}
	if res.IsError {
		if strings.HasPrefix(r.text, "tool execution failed") {
			e.t.Fatalf("%s: error text carries mcp-go's prefix: %q", tool, r.text)
		}
		return r
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		e.t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		e.t.Fatalf("%s: structuredContent: %v", tool, err)
	}
	if err := e.validate[tool].Validate(inst); err != nil {
		e.t.Fatalf("%s: structuredContent does not match the output schema: %v\n%s", tool, err, raw)
	}
	if err := json.Unmarshal(raw, &r.structured); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// ok fails the test unless r succeeded.
func (r result) ok(t testing.TB) result {
	t.Helper()
	if r.isError {
		t.Fatalf("tool error: %s", r.text)
	}
	return r
}

// fails fails the test unless r is an error containing want.
func (r result) fails(t testing.TB, want string) result {
	t.Helper()
	if !r.isError {
		t.Fatalf("succeeded (%s), want an error containing %q", r.text, want)
	}
	if !strings.Contains(r.text, want) {
		t.Fatalf("error %q does not contain %q", r.text, want)
	}
	return r
}

// put stores a message through the storage API.
func (e *env) put(mailbox string, folder storage.Folder, at time.Time, fm storage.Frontmatter, body string) string {
	e.t.Helper()
	_, d := domains.SplitName(mailbox)
	ref := storage.MailboxRef{Domain: d, Local: domains.StorageDir(mailbox)}
	st, err := e.store.Put(context.Background(), storage.PutRequest{Mailbox: ref, Folder: folder, At: at, Frontmatter: fm, Body: body})
	if err != nil {
		e.t.Fatal(err)
	}
	return st.ID
}

var t0 = time.Date(2026, 10, 7, 14, 45, 13, 0, time.UTC)

func inbound(subject, from, trusted string) storage.Frontmatter {
	return storage.Frontmatter{
		MessageID: subject + "@example.com", ThreadID: "0123456789abcdef", From: from,
		To: []string{support}, DeliveredTo: support, Subject: subject, Date: "2026-10-07T16:45:10+02:00",
		ReceivedAt: t0, DKIM: "pass", SPF: "pass", DMARC: "pass", Trusted: trusted,
	}
}
