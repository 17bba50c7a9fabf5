package domains

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// book/config-reference.md is generated from this package: the keys and
// their order from the toml tags of the raw structs (raw.go), what each
// key means from the doc comment of the field it fills in Config and the
// structs under it, and the defaults from Default (and, for the tables a
// file repeats, from what Parse fills in). Only a comment's first
// paragraph is shown: later paragraphs are for Go readers. A key whose
// field has no comment, a raw field with no counterpart that is not a Rust
// aimx key, and a Go name left in the text fail the test, as does a page
// that differs from what the code generates.

const (
	configRefPath  = "../book/config-reference.md"
	configRefUsage = "go test ./domains -run ConfigReference -update"
)

func TestConfigReference(t *testing.T) {
	t.Parallel()
	got, err := configReference(".")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Clean(configRefPath), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(configRefPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("book/config-reference.md differs from the config structs; run %s\n%s", configRefUsage, refFirstDiff(want, got))
	}
}

// The generator refuses what would make the page wrong or thin: a key
// without a doc comment, a raw field without a counterpart, Go names in
// the text. Each is planted in a copy of this package's sources.
func TestConfigReferenceCatchesDrift(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, old, new, want string }{
		{"undocumented key", "\t// MaxRecipients is how many RCPT TO one transaction may have.\n", "",
			"domains.SMTP.MaxRecipients ([smtp] max_recipients) has no doc comment"},
		{"raw field without counterpart", "\tListen *string `toml:\"listen\"`\n}", "\tListen *string `toml:\"listen\"`\n\tPath *string `toml:\"path\"`\n}",
			"rawMetrics.Path ([metrics] path) fills no field of Metrics"},
		{"Go name in the text", "\t// IPv6 lets deliveries connect to MX hosts over IPv6 too.\n", "\t// IPv6 lets deliveries connect to MX hosts over IPv6 too (see SendRulesFor).\n",
			"[outbound] ipv6: the text names SendRulesFor"},
	} {
		dir := t.TempDir()
		files, _ := filepath.Glob("*.go")
		planted := false
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(c.old)) {
				b, planted = bytes.Replace(b, []byte(c.old), []byte(c.new), 1), true
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !planted {
			t.Fatalf("%s: %q is not in the sources any more; plant the error elsewhere", c.name, c.old)
		}
		_, err := configReference(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// refSources is what the generator reads of the package.
type refSources struct {
	structs map[string]*ast.StructType // every struct type, raw ones included
	docs    map[string]string          // type name → doc comment
	enums   map[string][]string        // type name → its string constants, quoted
}

func readRefSources(dir string) (*refSources, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/aimx-dev/aimx/domains", doc.AllDecls|doc.PreserveAST)
	if err != nil {
		return nil, err
	}
	src := &refSources{structs: map[string]*ast.StructType{}, docs: map[string]string{}, enums: map[string][]string{}}
	for _, typ := range pkg.Types {
		src.docs[typ.Name] = typ.Doc
		for _, spec := range typ.Decl.Specs {
			if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.Name == typ.Name {
				if st, ok := ts.Type.(*ast.StructType); ok {
					src.structs[typ.Name] = st
				}
			}
		}
		for _, v := range typ.Consts {
			for _, spec := range v.Decl.Specs {
				for _, val := range spec.(*ast.ValueSpec).Values {
					if lit, ok := val.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						src.enums[typ.Name] = append(src.enums[typ.Name], strconv.Quote(s))
					}
				}
			}
		}
	}
	return src, nil
}

// The raw structs whose keys fill a field of another name.
var rawRenames = map[string]string{
	"rawMailbox.Address":          "Name",
	"rawSendPolicy.SendAllow":     "Allow",
	"rawSendPolicy.SendQuotaHour": "QuotaHour",
	"rawSendPolicy.SendQuotaDay":  "QuotaDay",
	"rawSendPolicy.SendApproval":  "Approval",
	"rawCommon.rawSendPolicy":     "Send",
	"rawOverride.rawSendPolicy":   "Send",
	"rawMailbox.rawSendPolicy":    "Send",
}

// The placeholders of the tables a file repeats.
var refPlaceholders = map[string]string{"domain": `"<domain>"`, "mailboxes": `"<address>"`}

// refMinimal is the smallest file with one of every repeated table: each
// key it sets is required (the test checks that leaving it out fails).
// What Parse fills in for the rest are their defaults.
var refMinimal = []string{
	`domains = ["example.com"]`,
	`[domain."example.com"]`,
	`[mailboxes."box@example.com"]`,
	`owner = "box"`,
	`[[mailboxes."box@example.com".hooks]]`,
	`event = "on_receive"`,
	`cmd = ["/bin/true"]`,
	`[[mailboxes."box@example.com".webhooks]]`,
	`url = "https://hooks.example.net/aimx"`,
	`events = ["on_receive"]`,
	`secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="`,
}

// refSection is one table of the page.
type refSection struct {
	title string // `[smtp]`; "" for the top level
	intro string
	rows  []refRow
}

type refRow struct{ key, typ, def, what string }

// refGen walks the raw structs beside the typed ones.
type refGen struct {
	src      *refSources
	required map[string]bool // "<table>.<key>" set by refMinimal
	errs     []error
	sections []*refSection
	rust     *refSection
}

func (g *refGen) fail(format string, args ...any) {
	g.errs = append(g.errs, fmt.Errorf(format, args...))
}

// configReference renders book/config-reference.md from the sources in
// dir (this package's, or a planted copy).
func configReference(dir string) ([]byte, error) {
	src, err := readRefSources(dir)
	if err != nil {
		return nil, err
	}
	minimal, err := Parse([]byte(strings.Join(refMinimal, "\n")+"\n"), "minimal", LoadOptions{LookupOwner: stubOwners})
	if err != nil {
		return nil, fmt.Errorf("the minimal config does not load: %w", err)
	}
	// Default is what Load fills in.
	if bare, err := Parse([]byte(refMinimal[0]+"\n"), "bare", LoadOptions{LookupOwner: stubOwners}); err != nil || !Equal(bare, Default("example.com")) {
		return nil, fmt.Errorf("Default(\"example.com\") is not what a file with only domains loads (%v)", err)
	}
	g := &refGen{src: src, required: map[string]bool{}, rust: &refSection{title: "Rust aimx keys"}}
	table := ""
	for i, line := range refMinimal {
		if strings.HasPrefix(line, "[") {
			table = refTableOf(line)
			continue
		}
		key, _, _ := strings.Cut(line, " = ")
		g.required[table+"."+key] = true
		rest := slices.Delete(slices.Clone(refMinimal), i, i+1)
		if _, err := Parse([]byte(strings.Join(rest, "\n")+"\n"), "minimal", LoadOptions{LookupOwner: stubOwners}); err == nil {
			g.fail("%s is not required: the minimal config loads without it", key)
		}
	}
	mb := minimal.Mailboxes["box@example.com"]
	def := Default("example.com")
	top := &refSection{}
	g.sections = append(g.sections, top)
	g.walk(top, "", "rawCommon", "Config", reflect.ValueOf(def).Elem(), map[string]reflect.Value{
		"domain":          reflect.ValueOf(minimal.Overrides["example.com"]),
		"mailboxes":       reflect.ValueOf(mb),
		"mailboxes.hooks": reflect.ValueOf(mb.Hooks[0]), "mailboxes.webhooks": reflect.ValueOf(mb.Webhooks[0]),
	}, def)
	if len(g.errs) > 0 {
		return nil, errors.Join(g.errs...)
	}
	return g.render(), nil
}

// refTableOf turns `[[mailboxes."x".hooks]]` into "mailboxes.hooks".
func refTableOf(header string) string {
	h := strings.Trim(header, "[]")
	h = regexp.MustCompile(`\."[^"]*"`).ReplaceAllString(h, "")
	return h
}

// walk adds the keys of the raw struct rawName, which fills the typed
// struct typedName (whose value, for defaults, is v), to sec, and a
// section for each table under it. table is the dotted table path
// ("mailboxes.hooks"), header its TOML header.
func (g *refGen) walk(sec *refSection, table, rawName, typedName string, v reflect.Value, repeated map[string]reflect.Value, cfg *Config) {
	raw, typed := g.src.structs[rawName], g.src.structs[typedName]
	if raw == nil || typed == nil {
		g.fail("no struct %s or %s", rawName, typedName)
		return
	}
	keys := g.keyNames(rawName, typedName)
	var subs []func()
	for _, f := range raw.Fields.List {
		goName := refFieldName(f)
		if rawName == "rawCommon" && goName == "Mailboxes" {
			// [domain."<domain>"] (rawFile's other half) goes before the mailboxes.
			subs = append(subs, func() { g.domainSection(repeated) })
		}
		tfName := goName
		if r, ok := rawRenames[rawName+"."+goName]; ok {
			tfName = r
		}
		if len(f.Names) == 0 { // embedded: rawSendPolicy, its keys are this table's
			inner := fmt.Sprint(f.Type)
			tf := refField(typed, tfName)
			if tf == nil {
				g.fail("%s embeds %s, which fills no field of %s", rawName, inner, typedName)
				continue
			}
			g.walk(sec, table, inner, fmt.Sprint(tf.Type), v.FieldByName(tfName), repeated, cfg)
			continue
		}
		key := refTag(f)
		where := strings.TrimSpace(refHeader(table) + " " + key)
		tf := refField(typed, tfName)
		if tf == nil {
			text := f.Doc.Text()
			if !strings.HasPrefix(text, "Rust aimx") {
				g.fail("%s.%s (%s) fills no field of %s: map it in rawRenames, or start its comment with \"Rust aimx\"", rawName, goName, where, typedName)
				continue
			}
			g.rust.rows = append(g.rust.rows, refRow{key: where, typ: g.typeOf(f.Type), what: g.text(where, strings.TrimPrefix(text, "Rust aimx: "), keys)})
			continue
		}
		switch t := f.Type.(type) {
		case *ast.Ident:
			if strings.HasPrefix(t.Name, "raw") { // a table: [smtp]
				sub := table + "." + key
				s := &refSection{title: "`" + refHeader(strings.TrimPrefix(sub, ".")) + "`", intro: g.intro(fmt.Sprint(tf.Type))}
				subs = append(subs, func() {
					g.sections = append(g.sections, s)
					g.walk(s, strings.TrimPrefix(sub, "."), t.Name, fmt.Sprint(tf.Type), v.FieldByName(tfName), repeated, cfg)
				})
				continue
			}
		case *ast.MapType, *ast.ArrayType:
			elem := refElem(f.Type)
			if strings.HasPrefix(elem, "raw") { // repeated tables: mailboxes, hooks
				sub := strings.TrimPrefix(table+"."+key, ".")
				typedElem := refElem(tf.Type)
				subs = append(subs, func() {
					s := &refSection{title: "`" + refHeader(sub) + "`", intro: g.intro(typedElem)}
					g.sections = append(g.sections, s)
					g.walk(s, sub, elem, typedElem, repeated[sub], repeated, cfg)
				})
				continue
			}
		}
		text := tf.Doc.Text()
		if text == "" {
			g.fail("domains.%s.%s (%s) has no doc comment", typedName, tfName, where)
			continue
		}
		row := refRow{key: "`" + key + "`", typ: g.typeOf(f.Type), what: g.text(where, text, keys)}
		switch {
		case g.required[table+"."+key] || (table == "" && g.required["."+key]):
			row.def = "required"
		default:
			row.def = refDefault(table, key, v.FieldByName(tfName), cfg)
		}
		sec.rows = append(sec.rows, row)
	}
	for _, s := range subs {
		s()
	}
}

// domainSection is `[domain."<domain>"]`, from rawFile's Domain field.
func (g *refGen) domainSection(repeated map[string]reflect.Value) {
	s := &refSection{title: "`" + refHeader("domain") + "`", intro: g.intro("DomainOverride")}
	g.sections = append(g.sections, s)
	g.walk(s, "domain", "rawOverride", "DomainOverride", repeated["domain"], repeated, nil)
	for _, f := range g.src.structs["rawFile"].Fields.List {
		if refFieldName(f) == "Domain" {
			g.rust.rows = append(g.rust.rows, refRow{key: `domain = "a.com"`, typ: "string",
				what: g.text("domain", f.Doc.Text(), map[string]string{"Domain": "domain"})})
		}
	}
}

// keyNames maps the Go names of typedName's fields to their keys, so a
// comment that names a field reads as the key.
func (g *refGen) keyNames(rawName, typedName string) map[string]string {
	out := map[string]string{}
	var add func(raw string)
	add = func(raw string) {
		st := g.src.structs[raw]
		if st == nil {
			return
		}
		for _, f := range st.Fields.List {
			name := refFieldName(f)
			if len(f.Names) == 0 {
				add(name)
				continue
			}
			if r, ok := rawRenames[raw+"."+name]; ok {
				name = r
			}
			out[name] = refTag(f)
		}
	}
	add(rawName)
	return out
}

var (
	goNameRE      = regexp.MustCompile(`\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b`)
	wordRE        = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*`)
	bookRefRE     = regexp.MustCompile(`book/([a-z0-9-]+)\.md`)
	bookSectionRE = regexp.MustCompile(`book/([a-z0-9-]+)\.md,? "([^"]+)"`)
	codeSpanRE    = regexp.MustCompile("`[^`]*`")
)

// text is a comment's first paragraph on one line, with the Go names of
// fields turned into their keys and book/x.md into links.
func (g *refGen) text(where, comment string, keys map[string]string) string {
	para, _, _ := strings.Cut(strings.TrimSpace(comment), "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	var b strings.Builder
	last := 0
	for _, span := range codeSpanRE.FindAllStringIndex(para, -1) {
		b.WriteString(refReplaceNames(para[last:span[0]], keys))
		b.WriteString(para[span[0]:span[1]])
		last = span[1]
	}
	b.WriteString(refReplaceNames(para[last:], keys))
	out := b.String()
	for _, m := range goNameRE.FindAllString(codeSpanRE.ReplaceAllString(out, ""), -1) {
		g.fail("%s: the text names %s, a Go name: write what it means, or move it to a second paragraph", where, m)
	}
	out = bookSectionRE.ReplaceAllStringFunc(out, func(m string) string {
		sub := bookSectionRE.FindStringSubmatch(m)
		return "[" + sub[1] + "](" + sub[1] + ".md#" + refSlug(sub[2]) + ")"
	})
	return bookRefRE.ReplaceAllString(out, "[$1]($1.md)")
}

// refSlug is GitHub's anchor of a heading.
func refSlug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// refReplaceNames writes the keys for the field names in s: the leading
// one (`Trust is ...`), and any other whose Go name is not simply the
// key in capitals (TLSCert, not IPv6 or SMTP, which are also words).
func refReplaceNames(s string, keys map[string]string) string {
	first := true
	return wordRE.ReplaceAllStringFunc(s, func(w string) string {
		lead := first
		first = false
		if k, ok := keys[w]; ok && (lead || (strings.ToLower(w) != k && strings.ContainsFunc(w[1:], unicode.IsUpper))) {
			return "`" + k + "`"
		}
		return w
	})
}

// intro is a section's introduction: its type's comment, first paragraph,
// "SMTP is the ..." read as "The ...".
func (g *refGen) intro(typeName string) string {
	text := strings.TrimSpace(g.src.docs[typeName])
	if rest, ok := strings.CutPrefix(text, typeName+" is "); ok {
		text = strings.ToUpper(rest[:1]) + rest[1:]
	}
	return g.text("type "+typeName, text, nil)
}

// typeOf names a raw field's type as a TOML value.
func (g *refGen) typeOf(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return g.typeOf(t.X)
	case *ast.ArrayType:
		if inner := g.typeOf(t.Elt); inner != "string" {
			return "list of " + inner
		}
		return "list of strings"
	case *ast.Ident:
		if vals := g.src.enums[t.Name]; len(vals) > 0 {
			return "`" + strings.Join(vals, "` \\| `") + "`"
		}
		switch t.Name {
		case "string":
			return "string"
		case "int", "int64":
			return "integer"
		case "bool":
			return "boolean"
		case "Duration":
			return "duration"
		case "any":
			return "table"
		}
		return t.Name
	case *ast.InterfaceType:
		return "table"
	}
	return fmt.Sprint(e)
}

// refDefault renders a key's default: v is its field in the default (or
// minimally loaded) config. A few are resolved where the code resolves
// them, because their field stays empty.
func refDefault(table, key string, v reflect.Value, cfg *Config) string {
	if table == "" && cfg != nil {
		paths := ResolvePaths(Paths{}, Paths{}, cfg)
		rules := cfg.SendRulesFor("box@" + cfg.Domains[0])
		switch key {
		case "data_dir":
			return "`" + strconv.Quote(paths.DataDir) + "`"
		case "runtime_dir":
			return "`" + strconv.Quote(paths.RuntimeDir) + "`"
		case "send_quota_hour":
			return "`" + strconv.Itoa(rules.QuotaHour) + "`"
		case "send_quota_day":
			return "`" + strconv.Itoa(rules.QuotaDay) + "`"
		case "send_approval":
			if !rules.ApprovalRequired {
				return "`" + strconv.Quote(ApprovalNone) + "`"
			}
		}
	}
	if table == "smtp" && key == "hostname" && cfg != nil && cfg.Hostname() == cfg.Domains[0] {
		return "the first of `domains`"
	}
	if table == "mailboxes" && key == "address" {
		return "the table's key"
	}
	if !v.IsValid() || (table == "domain" || table == "mailboxes") && v.Kind() == reflect.Slice && v.IsNil() {
		return "unset" // a layer that does not set it
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "unset"
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case Duration:
		return "`" + strconv.Quote(x.String()) + "`"
	case string:
		return "`" + strconv.Quote(x) + "`"
	case Trust:
		return "`" + strconv.Quote(string(x)) + "`"
	case []string:
		if len(x) == 0 {
			return "`[]`"
		}
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return "`[]`"
	}
	return "`" + fmt.Sprint(v.Interface()) + "`"
}

func refFieldName(f *ast.Field) string {
	if len(f.Names) > 0 {
		return f.Names[0].Name
	}
	return fmt.Sprint(f.Type)
}

// refField finds a typed struct's field by name (fields declared together,
// `QuotaHour, QuotaDay *int`, share the comment).
func refField(st *ast.StructType, name string) *ast.Field {
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.Name == name {
				return f
			}
		}
	}
	return nil
}

func refTag(f *ast.Field) string {
	if f.Tag == nil {
		return ""
	}
	tag, _ := strconv.Unquote(f.Tag.Value)
	name, _, _ := strings.Cut(reflect.StructTag(tag).Get("toml"), ",")
	return name
}

// refElem is the element type's name of a map or slice.
func refElem(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.MapType:
		return fmt.Sprint(t.Value)
	case *ast.ArrayType:
		return fmt.Sprint(t.Elt)
	}
	return ""
}

// refHeader is the TOML header of a table path: `[smtp]`,
// `[mailboxes."<address>"]`, `[[mailboxes."<address>".hooks]]`.
func refHeader(table string) string {
	if table == "" {
		return ""
	}
	parts := strings.Split(table, ".")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
		if ph, ok := refPlaceholders[p]; ok {
			b.WriteString("." + ph)
		}
	}
	if len(parts) > 1 {
		return "[[" + b.String() + "]]"
	}
	return "[" + b.String() + "]"
}

func (g *refGen) render() []byte {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("<!-- Generated by `" + configRefUsage + "` from the config structs in domains/: edit their doc comments, not this page. -->\n\n")
	b.WriteString("Every key `config.toml` accepts, table by table, with its type, its default and what it does. This page is\n" +
		"generated from the code that reads the file (the doc comments of the config structs in `domains/`, and the\n" +
		"defaults the loader fills in), and a test fails when the two drift apart. How the file is read and written, the\n" +
		"rules of each key in full, how the layers (mailbox, domain, global) resolve, and a complete example are in\n" +
		"[configuration](configuration.md).\n\n" +
		"Durations are Go duration strings (`\"10s\"`, `\"5m\"`, `\"168h\"`). \"required\" keys must be set; \"unset\" means the\n" +
		"key is absent unless written, and the text says what applies then.\n")
	for _, s := range append(g.sections, g.rust) {
		title := s.title
		if title == "" {
			title = "Top level"
		}
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		if s == g.rust {
			b.WriteString("Keys the Rust aimx writes, and the legacy single-domain form. A file with them loads, with one warning each\n" +
				"([upgrade](upgrade.md)); the next rewrite drops them.\n\n")
			b.WriteString("| key | type | what |\n|---|---|---|\n")
			for _, r := range s.rows {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.key, r.typ, refCell(r.what))
			}
			continue
		}
		if s.intro != "" {
			b.WriteString(s.intro + "\n\n")
		}
		b.WriteString("| key | type | default | what |\n|---|---|---|---|\n")
		for _, r := range s.rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.key, r.typ, r.def, refCell(r.what))
		}
	}
	return []byte(b.String())
}

// refCell escapes a table cell's pipes (outside code spans too: GitHub
// splits cells on every unescaped pipe).
func refCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func refFirstDiff(a, b []byte) string {
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

// TestHookRecipesLoad: every TOML block of book/hooks.md's "Recipes" is a
// complete hook table that loads (beside its mailbox's table, added when
// the block does not show it).
func TestHookRecipesLoad(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../book/hooks.md")
	if err != nil {
		t.Fatal(err)
	}
	_, recipes, ok := strings.Cut(string(page), "\n## Recipes\n")
	if !ok {
		t.Fatal("book/hooks.md has no ## Recipes section")
	}
	recipes, _, _ = strings.Cut(recipes, "\n## ")
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(recipes, -1)
	if len(blocks) < 4 {
		t.Fatalf("book/hooks.md's recipes show %d TOML blocks; want at least 4", len(blocks))
	}
	for _, b := range blocks {
		if err := recipeLoads(b[1]); err != nil {
			t.Errorf("book/hooks.md recipe does not load: %v\n%s", err, b[1])
		}
	}
	// The check can fail: a relative command, a misspelt key, a fragment.
	for _, bad := range []string{
		"[[mailboxes.\"a@x.test\".hooks]]\nevent = \"on_receive\"\ncmd = [\"curl\"]\n",
		"[[mailboxes.\"a@x.test\".hooks]]\nevent = \"on_receive\"\ncmd = [\"/bin/true\"]\nfire_on_untrsted = true\n",
		"cmd = [\"/usr/local/bin/codex\", \"exec\", \"-\"]\n",
	} {
		if recipeLoads(bad) == nil {
			t.Errorf("a broken recipe loads:\n%s", bad)
		}
	}
}

var recipeHookRE = regexp.MustCompile(`(?m)^\[\[mailboxes\."([^"]+)"\.hooks\]\]$`)

// recipeLoads loads a recipe's TOML with the domains and mailbox tables
// it needs, and checks each of its hooks made it into the config.
func recipeLoads(block string) error {
	m := recipeHookRE.FindAllStringSubmatch(block, -1)
	if len(m) == 0 {
		return errors.New("no [[mailboxes.\"x\".hooks]] table")
	}
	name := m[0][1]
	_, domain := SplitName(name)
	file := fmt.Sprintf("domains = [%q]\n", domain)
	if !strings.Contains(block, fmt.Sprintf("[mailboxes.%q]", name)) {
		file += fmt.Sprintf("[mailboxes.%q]\nowner = \"owner\"\n", name)
	}
	cfg, err := Parse([]byte(file+block), "recipe", LoadOptions{LookupOwner: stubOwners})
	if err != nil {
		return err
	}
	if got := len(cfg.Mailboxes[name].Hooks); got != len(m) {
		return fmt.Errorf("%d hooks loaded of %d", got, len(m))
	}
	return nil
}
