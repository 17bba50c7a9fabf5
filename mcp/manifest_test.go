package mcp

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/manifest.golden.json and the generated part of book/mcp.md")

const (
	manifestGolden = "testdata/manifest.golden.json"
	bookPath       = "../book/mcp.md"
	bookBegin      = "<!-- BEGIN GENERATED: tool reference (go test ./mcp -update) -->\n"
	bookEnd        = "<!-- END GENERATED: tool reference -->\n"
)

// The tools of book/mcp.md this part ships; the send tools come with the
// outbound issue.
var wantTools = []string{
	"mailbox_list", "mailbox_create", "mailbox_delete",
	"email_list", "email_search", "email_read", "email_wait", "attachment_read", "thread_read", "email_mark_read", "email_mark_unread",
	"email_label", "email_move", "email_delete", "email_restore",
	"email_send", "email_reply", "email_status", "draft_list",
	"hook_create", "hook_list", "hook_delete",
	"webhook_create", "webhook_list", "webhook_delete",
}

// Every tool has a description, object-rooted input and output schemas
// with a description on every property, a title and all four annotations
// set explicitly; only send tools are open-world (book/mcp.md).
func TestManifestComplete(t *testing.T) {
	t.Parallel()
	srv := NewServer(Deps{})
	var names []string
	for _, tool := range srv.Tools() {
		names = append(names, tool.Name)
		if len(tool.Description) < 80 {
			t.Errorf("%s: description too short for an agent: %q", tool.Name, tool.Description)
		}
		a := tool.Annotations
		if a.Title == "" || a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: annotations not all set: %+v", tool.Name, a)
			continue
		}
		sendTool := tool.Name == "email_send" || tool.Name == "email_reply"
		if *a.OpenWorldHint != sendTool {
			t.Errorf("%s: openWorldHint %t; only the send tools reach outside", tool.Name, *a.OpenWorldHint)
		}
		if *a.ReadOnlyHint && *a.DestructiveHint {
			t.Errorf("%s: read-only and destructive", tool.Name)
		}
		for kind, raw := range map[string]json.RawMessage{"input": tool.RawInputSchema, "output": tool.RawOutputSchema} {
			var s map[string]any
			if err := json.Unmarshal(raw, &s); err != nil || s["type"] != "object" {
				t.Errorf("%s: %s schema is not object-rooted: %s", tool.Name, kind, raw)
				continue
			}
			compileStrict(t, tool.Name, raw)
			walkProps(s, tool.Name+"."+kind, func(path string, p map[string]any) {
				if d, _ := p["description"].(string); d == "" && p["type"] != "array" {
					t.Errorf("%s: no description", path)
				}
			})
		}
		// The tool encodes as mcp-go sends it (no schema conflict).
		if _, err := json.Marshal(tool); err != nil {
			t.Errorf("%s: %v", tool.Name, err)
		}
	}
	if strings.Join(names, ",") != strings.Join(wantTools, ",") {
		t.Errorf("tools = %v, want %v", names, wantTools)
	}
	// mcp-go lists what was registered.
	if got := len(srv.MCP().ListTools()); got != len(wantTools) {
		t.Errorf("mcp-go lists %d tools", got)
	}
}

// walkProps calls fn for every property of every object schema under s.
func walkProps(s map[string]any, path string, fn func(string, map[string]any)) {
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		pm := p.(map[string]any)
		fn(path+"."+name, pm)
		walkProps(pm, path+"."+name, fn)
		if items, ok := pm["items"].(map[string]any); ok {
			walkProps(items, path+"."+name+"[]", fn)
		}
	}
}

// manifestJSON is the reviewed form of the tool list: names,
// descriptions, schemas and annotations.
func manifestJSON(t *testing.T) []byte {
	t.Helper()
	b, err := json.MarshalIndent(NewServer(Deps{}).Tools(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestManifestGolden(t *testing.T) {
	got := manifestJSON(t)
	if *update {
		if err := os.WriteFile(manifestGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(manifestGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the tool manifest changed; review the diff and run go test ./mcp -update\n%s", firstDiff(want, got))
	}
}

// The book's tool reference is generated from the manifest; it must not
// drift from it.
func TestBookMatchesManifest(t *testing.T) {
	book, err := os.ReadFile(bookPath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(book, []byte(bookBegin))
	j := bytes.Index(book, []byte(bookEnd))
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", bookPath)
	}
	gen := []byte(bookReference(NewServer(Deps{})))
	cur := book[i+len(bookBegin) : j]
	if *update && !bytes.Equal(cur, gen) {
		out := append(append(append([]byte{}, book[:i+len(bookBegin)]...), gen...), book[j:]...)
		if err := os.WriteFile(filepath.Clean(bookPath), out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(cur, gen) {
		t.Fatalf("book/mcp.md's tool reference differs from the manifest; run go test ./mcp -update\n%s", firstDiff(cur, gen))
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

// bookReference renders every tool: description, annotations, parameters,
// result fields and an example call.
func bookReference(s *Server) string {
	var b strings.Builder
	for _, d := range s.tools {
		tool := d.mcpTool()
		fmt.Fprintf(&b, "### `%s`\n\n%s\n\n", tool.Name, tool.Description)
		a := tool.Annotations
		fmt.Fprintf(&b, "Annotations: `readOnlyHint: %t`, `destructiveHint: %t`, `idempotentHint: %t`, `openWorldHint: %t`.\n\n",
			*a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint)
		rows := schemaRows(decoded(tool.RawInputSchema), "")
		if len(rows) == 0 {
			b.WriteString("Parameters: none.\n\n")
		} else {
			b.WriteString("| parameter | type | required | description |\n|---|---|---|---|\n")
			for _, r := range rows {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.path, r.typ, yesNo(r.required), mdCell(r.desc))
			}
			b.WriteString("\n")
		}
		b.WriteString("| result field | type | always | description |\n|---|---|---|---|\n")
		for _, r := range schemaRows(decoded(tool.RawOutputSchema), "") {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.path, r.typ, yesNo(r.required), mdCell(r.desc))
		}
		ex, _ := json.Marshal(map[string]any{"name": tool.Name, "arguments": d.example})
		fmt.Fprintf(&b, "\nExample `tools/call` params:\n\n```json\n%s\n```\n\n", ex)
	}
	return b.String()
}

type schemaRow struct {
	path, typ, desc string
	required        bool
}

// decoded is a schema as a client reads it from the manifest.
func decoded(raw json.RawMessage) map[string]any {
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(err)
	}
	return s
}

// schemaRows flattens an object schema: `emails[].id` for fields of
// objects inside arrays.
func schemaRows(s map[string]any, prefix string) []schemaRow {
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	if r, ok := s["required"].([]any); ok {
		for _, n := range r {
			required[n.(string)] = true
		}
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	sort.SliceStable(names, func(i, j int) bool { return required[names[i]] && !required[names[j]] })
	var out []schemaRow
	for _, n := range names {
		p := props[n].(map[string]any)
		typ, _ := p["type"].(string)
		if e, ok := p["enum"].([]any); ok {
			vals := make([]string, len(e))
			for i, v := range e {
				vals[i] = fmt.Sprint(v)
			}
			typ = "`" + strings.Join(vals, "` \\| `") + "`"
		}
		var items map[string]any
		if typ == "array" {
			items, _ = p["items"].(map[string]any)
			if it, _ := items["type"].(string); it != "" {
				typ = "array of " + it
			}
		}
		out = append(out, schemaRow{path: prefix + n, typ: typ, desc: descOf(p), required: required[n]})
		if items != nil && items["type"] == "object" {
			out = append(out, schemaRows(items, prefix+n+"[].")...)
		}
		if p["type"] == "object" && p["properties"] != nil {
			out = append(out, schemaRows(p, prefix+n+".")...)
		}
	}
	return out
}

func descOf(p map[string]any) string {
	d, _ := p["description"].(string)
	if def, ok := p["default"]; ok {
		d += fmt.Sprintf(" Default `%v`.", def)
	}
	return d
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
