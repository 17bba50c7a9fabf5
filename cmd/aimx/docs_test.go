package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The docs checks hold the book (book/*.md) and README.md to the code: every
// aimx command line they show runs a command that exists, with flags it
// has, and every relative link reaches a file and a heading.

// docFiles are the pages the checks read, relative to this package.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../book/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no book pages: %v", err)
	}
	return append(files, "../../README.md")
}

// docLine is one line of a page, with where it is and what it is in.
type docLine struct {
	file  string
	n     int
	text  string
	fence string // the fence's info string ("sh", "console", ...) inside a fenced block; "" outside
	code  bool   // inside a fenced block
}

var fenceRE = regexp.MustCompile("^\\s*(```+|~~~+)\\s*([^\\s`]*)")

// readDoc splits a page into lines and marks the fenced code blocks (an
// indented fence inside a list item counts too).
func readDoc(t *testing.T, file string) []docLine {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(filepath.ToSlash(file), "../../")
	var out []docLine
	open, info := "", ""
	for i, line := range strings.Split(string(data), "\n") {
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			switch {
			case open == "":
				open, info = m[1], m[2]
				continue
			case strings.HasPrefix(m[1], open[:1]) && len(m[1]) >= len(open) && strings.TrimSpace(line) == m[1]:
				open, info = "", ""
				continue
			}
		}
		out = append(out, docLine{file: name, n: i + 1, text: line, fence: info, code: open != ""})
	}
	if open != "" {
		t.Errorf("%s: a fenced code block is never closed", name)
	}
	return out
}

// docCommandTree is the CLI as a user runs it, help and completion
// included (cobra adds those at Execute).
func docCommandTree() *cobra.Command {
	root := newTestRoot(&app{env: map[string]string{}})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// proseAfterAimx are words that follow "aimx" in program output shown in
// a code block ("aimx is running", "aimx receives mail for ..."): there
// "aimx" is the product's name, not a command.
var proseAfterAimx = map[string]bool{"is": true, "receives": true}

// commandPrefix are the tokens after which "aimx" starts a command.
var commandPrefix = map[string]bool{
	"$": true, "#": true, "sudo": true, "exec": true, "|": true, "&&": true, "||": true, ";": true,
	"--": true, "-c": true, "then": true, "do": true, "(": true, "$(": true, "time": true, "env": true,
}

// commandEnd are the tokens that end a command line's arguments.
var commandEnd = map[string]bool{"|": true, "&&": true, "||": true, ";": true, ")": true, "#": true, "--": true}

var (
	envAssignRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)
	verbRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	inlineRE    = regexp.MustCompile("`([^`]+)`")
	argvRE      = regexp.MustCompile(`\[\s*"(?:[^"]*/)?aimx"\s*((?:,\s*"[^"]*"\s*)*)`)
	quotedRE    = regexp.MustCompile(`"([^"]*)"`)
	literalRE   = regexp.MustCompile(`'([^']*)'`)
)

// aimxCommands finds the aimx command lines in one line of text: each is
// the argv after "aimx", cut at the end of the command.
func aimxCommands(text string, shellLike bool) [][]string {
	var out [][]string
	// argv arrays: cmd = ["/usr/local/bin/aimx", "send", ...]
	for _, m := range argvRE.FindAllStringSubmatch(text, -1) {
		var argv []string
		for _, q := range quotedRE.FindAllStringSubmatch(m[1], -1) {
			argv = append(argv, q[1])
		}
		out = append(out, argv)
	}
	if !shellLike {
		// the script of a hook's ["/bin/sh", "-c", '...'] (a TOML literal string)
		for _, m := range literalRE.FindAllStringSubmatch(text, -1) {
			out = append(out, aimxCommands(m[1], true)...)
		}
		return out
	}
	toks := strings.Fields(text)
	for i, tok := range toks {
		bare := strings.Trim(tok, `'"`)
		if bare != "aimx" && !strings.HasSuffix(bare, "/aimx") {
			continue
		}
		prev := ""
		if i > 0 {
			prev = strings.Trim(toks[i-1], `'",`)
		}
		goRun := i >= 2 && toks[i-2] == "go" && toks[i-1] == "run"
		if i > 0 && !commandPrefix[prev] && !envAssignRE.MatchString(prev) && !goRun && !strings.HasSuffix(toks[i-1], ":") {
			continue
		}
		var argv []string
		for _, a := range toks[i+1:] {
			if commandEnd[a] {
				break
			}
			end := strings.HasSuffix(a, "'") && !strings.HasPrefix(a, "'") // closes a sh -c string
			argv = append(argv, strings.TrimRight(a, `'`))
			if end {
				break
			}
		}
		out = append(out, argv)
	}
	return out
}

// globalFlagsWithValue are the root's flags that take a value.
var globalFlagsWithValue = map[string]bool{"--config-dir": true, "--data-dir": true, "--runtime-dir": true}

// checkCommand resolves argv against the tree and returns what is wrong
// with it: an unknown command or subcommand, or a flag the command lacks.
func checkCommand(root *cobra.Command, argv []string) []string {
	i := 0
	for i < len(argv) && strings.HasPrefix(argv[i], "-") { // global flags before the verb
		if globalFlagsWithValue[argv[i]] {
			i++
		}
		i++
	}
	if i >= len(argv) {
		return nil
	}
	verb := argv[i]
	if !verbRE.MatchString(verb) || proseAfterAimx[verb] {
		return nil // a placeholder (<command>, VERB) or prose
	}
	cmd := findSub(root, verb)
	if cmd == nil {
		return []string{fmt.Sprintf("aimx %s: no such command", verb)}
	}
	var problems []string
	rest := argv[i+1:]
	if cmd.HasSubCommands() && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		// `aimx hooks list|create|delete` names several at once.
		var subs []*cobra.Command
		for _, s := range splitAlternatives(rest[0]) {
			if !verbRE.MatchString(s) {
				return problems // a placeholder (SUBCOMMAND)
			}
			sub := findSub(cmd, s)
			if sub == nil {
				problems = append(problems, fmt.Sprintf("aimx %s %s: no such command", verb, s))
				continue
			}
			subs = append(subs, sub)
		}
		if len(subs) != 1 {
			return problems
		}
		cmd, rest = subs[0], rest[1:]
	}
	for _, a := range rest {
		for _, f := range flagsIn(a) {
			if !hasFlag(cmd, f) {
				problems = append(problems, fmt.Sprintf("%s: no flag %s", cmd.CommandPath(), f))
			}
		}
	}
	return problems
}

// splitAlternatives splits `list|show` (or `list\|show` in a table).
func splitAlternatives(s string) []string {
	return strings.Split(strings.ReplaceAll(s, `\|`, "|"), "|")
}

// flagsIn returns the flags one argument names: `--name`, `-n`, and each
// of `[--text-only\|--html-body`.
func flagsIn(arg string) []string {
	var out []string
	for _, alt := range splitAlternatives(arg) {
		alt = strings.TrimLeft(alt, "[(")
		alt = strings.TrimRight(alt, "]).,")
		alt, _, _ = strings.Cut(alt, "=")
		switch {
		case strings.HasPrefix(alt, "--") && len(alt) > 2 && verbRE.MatchString(alt[2:]):
			out = append(out, alt)
		case len(alt) == 2 && alt[0] == '-' && unicode.IsLetter(rune(alt[1])):
			out = append(out, alt)
		}
	}
	return out
}

func hasFlag(cmd *cobra.Command, f string) bool {
	if f == "--help" || f == "-h" {
		return true
	}
	var fl *pflag.Flag
	if name, ok := strings.CutPrefix(f, "--"); ok {
		fl = cmd.Flags().Lookup(name)
		if fl == nil {
			fl = cmd.InheritedFlags().Lookup(name)
		}
	} else {
		fl = cmd.Flags().ShorthandLookup(f[1:])
		if fl == nil {
			fl = cmd.InheritedFlags().ShorthandLookup(f[1:])
		}
	}
	return fl != nil
}

func findSub(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// shellFences are the info strings of blocks that hold command lines; a
// block without one may too (program output that suggests commands).
var shellFences = map[string]bool{"": true, "sh": true, "bash": true, "shell": true, "console": true, "text": true}

// docCommandProblems checks every aimx command line in the fenced blocks
// of the given lines: shell blocks line by line, any block's argv arrays
// and sh -c scripts. (Inline code is left alone: it quotes messages such
// as `aimx did not answer` as often as it shows commands.)
func docCommandProblems(root *cobra.Command, lines []docLine) []string {
	var problems []string
	for _, l := range lines {
		if !l.code {
			continue
		}
		for _, argv := range aimxCommands(l.text, shellFences[l.fence]) {
			for _, p := range checkCommand(root, argv) {
				problems = append(problems, fmt.Sprintf("%s:%d: %s (in %q)", l.file, l.n, p, strings.TrimSpace(l.text)))
			}
		}
	}
	return problems
}

// TestDocsCommandsExist: every aimx command the book and the README show
// exists in the command tree, with the flags it is shown with.
func TestDocsCommandsExist(t *testing.T) {
	t.Parallel()
	root := docCommandTree()
	var lines []docLine
	for _, f := range docFiles(t) {
		lines = append(lines, readDoc(t, f)...)
	}
	for _, p := range docCommandProblems(root, lines) {
		t.Error(p)
	}
}

// The check catches what it is for, and leaves prose and placeholders
// alone.
func TestDocsCommandCheckCatches(t *testing.T) {
	t.Parallel()
	root := docCommandTree()
	for _, c := range []struct {
		text, fence string
		code        bool
		want        string // "" for no problem
	}{
		{"$ sudo aimx frobnicate --now", "console", true, "aimx frobnicate: no such command"},
		{"aimx hooks frobnicate", "sh", true, "aimx hooks frobnicate: no such command"},
		{"go run ./cmd/aimx --config-dir .aimx-dev mailboxes lists", "", true, "aimx mailboxes lists: no such command"},
		{`cmd = ["/usr/local/bin/aimx", "sned", "--from", "x"]`, "toml", true, "aimx sned: no such command"},
		{"aimx send --form a@b.test", "sh", true, "aimx send: no flag --form"},
		{"aimx mailboxes list|show|craete", "sh", true, "aimx mailboxes craete: no such command"},
		{"# AIMX_NONINTERACTIVE=1 aimx setupp example.com", "console", true, "aimx setupp: no such command"},
		{"cmd = [\"/bin/sh\", \"-c\", 'exec /usr/local/bin/aimx sendd --from x']", "toml", true, "aimx sendd: no such command"},
		{"aimx is running (domains: agent.localhost)", "", true, ""},
		{"The agent reaches aimx through /usr/local/bin/aimx mcp", "", true, ""},
		{`{ "mcpServers": { "aimx": { "command": "aimx", "args": ["mcp"] } } }`, "json", true, ""},
		{"aimx hooks create --mailbox M --event E -- /abs/cmd --not-a-flag-of-aimx", "", true, ""},
		{"aimx agents setup AGENT [--mailbox M]... [--print]", "", true, ""},
		{"aimx logs -n 200 -f", "sh", true, ""},
		{"aimx frobnicate", "toml", true, ""},    // not a shell block: only argv arrays and scripts count
		{"see `aimx frobnicate`", "", false, ""}, // inline code is not checked
	} {
		got := docCommandProblems(root, []docLine{{file: "x.md", n: 7, text: c.text, fence: c.fence, code: c.code}})
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%q: unexpected %v", c.text, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want) || !strings.HasPrefix(got[0], "x.md:7: ")):
			t.Errorf("%q: got %v, want one x.md:7: %q", c.text, got, c.want)
		}
	}
}

// cliTableCommands reads the command column of book/cli.md's command
// table: the argv after "aimx" of each row, and the row's line.
func cliTableCommands(t *testing.T) map[int][]string {
	t.Helper()
	rows := map[int][]string{}
	in := false
	for _, l := range readDoc(t, "../../book/cli.md") {
		switch {
		case strings.HasPrefix(l.text, "## "):
			in = l.text == "## Commands"
		case in && !l.code && strings.HasPrefix(l.text, "| `aimx "):
			cell, _, _ := strings.Cut(l.text[len("| `aimx "):], "`")
			rows[l.n] = strings.Fields(cell)
		}
	}
	if len(rows) == 0 {
		t.Fatal("book/cli.md: no command table under ## Commands")
	}
	return rows
}

// cliTableProblems compares the table with the tree: each row names a
// command that exists, with flags it has, and every command and
// subcommand (help aside) has a row.
func cliTableProblems(root *cobra.Command, rows map[int][]string) []string {
	var problems []string
	listed := map[string]bool{}
	for n, argv := range rows {
		for _, p := range checkCommand(root, argv) {
			problems = append(problems, fmt.Sprintf("book/cli.md:%d: %s", n, p))
		}
		listed[argv[0]] = true
		if len(argv) > 1 {
			for _, s := range splitAlternatives(argv[1]) {
				listed[argv[0]+" "+s] = true
			}
		}
	}
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Hidden {
			continue
		}
		if !listed[c.Name()] {
			problems = append(problems, fmt.Sprintf("book/cli.md: the command table lacks aimx %s", c.Name()))
		}
		for _, s := range c.Commands() {
			if !s.Hidden && c.Name() != "completion" && !listed[c.Name()+" "+s.Name()] {
				problems = append(problems, fmt.Sprintf("book/cli.md: the command table lacks aimx %s %s", c.Name(), s.Name()))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// TestCLIPageListsEveryCommand: book/cli.md's table is the list of
// commands; it names every one that exists and none that does not.
func TestCLIPageListsEveryCommand(t *testing.T) {
	t.Parallel()
	root := docCommandTree()
	for _, p := range cliTableProblems(root, cliTableCommands(t)) {
		t.Error(p)
	}
	// The check can fail: a table without `aimx doctor` and with a
	// command that does not exist.
	rows := cliTableCommands(t)
	for n, argv := range rows {
		if argv[0] == "doctor" {
			rows[n] = []string{"doctorz"}
		}
	}
	got := strings.Join(cliTableProblems(root, rows), "\n")
	if !strings.Contains(got, "aimx doctorz: no such command") || !strings.Contains(got, "the command table lacks aimx doctor") {
		t.Errorf("a planted error was not caught:\n%s", got)
	}
}

// Markdown links and headings.
var (
	linkRE      = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refDefRE    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+(\S+)`)
	headingRE   = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	htmlAnchorR = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// slug is GitHub's anchor for a heading: lowercase, punctuation dropped
// (hyphens and underscores kept), spaces turned into hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of a page: its headings' slugs (repeats
// numbered -1, -2 as GitHub does) and explicit <a id> anchors.
func anchors(lines []docLine) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range lines {
		for _, m := range htmlAnchorR.FindAllStringSubmatch(l.text, -1) {
			out[m[1]] = true
		}
		if l.code {
			continue
		}
		m := headingRE.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		s := slug(m[2])
		if k := seen[s]; k > 0 {
			out[fmt.Sprintf("%s-%d", s, k)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// linkProblems checks every relative link of the pages: its file exists
// and its #anchor is a heading there. pages maps a page's path (as
// docLine.file names it) to its lines; load reads another Markdown file a
// link with an anchor reaches (bench/README.md).
func linkProblems(pages map[string][]docLine, exists func(string) bool, load func(string) []docLine) []string {
	var problems []string
	for file, lines := range pages {
		for _, l := range lines {
			if l.code {
				continue
			}
			text := inlineRE.ReplaceAllString(l.text, "``") // links in code spans are not links
			var targets []string
			for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
				targets = append(targets, m[1])
			}
			if m := refDefRE.FindStringSubmatch(text); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
					if !exists(dest) {
						problems = append(problems, fmt.Sprintf("%s:%d: link %s: no file %s", file, l.n, target, dest))
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(dest, ".md") {
					continue
				}
				destLines, ok := pages[dest]
				if !ok {
					destLines = load(dest)
				}
				if !anchors(destLines)[anchor] {
					problems = append(problems, fmt.Sprintf("%s:%d: link %s: no heading #%s in %s", file, l.n, target, anchor, dest))
				}
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// TestDocsLinksResolve: every relative link in book/ and README.md
// reaches an existing file and, with an #anchor, a heading of it.
func TestDocsLinksResolve(t *testing.T) {
	t.Parallel()
	pages := map[string][]docLine{}
	for _, f := range docFiles(t) {
		lines := readDoc(t, f)
		pages[lines[0].file] = lines
	}
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join("../..", p))
		return err == nil
	}
	load := func(p string) []docLine { return readDoc(t, filepath.Join("../..", p)) }
	for _, p := range linkProblems(pages, exists, load) {
		t.Error(p)
	}
	// The check can fail.
	planted := map[string][]docLine{
		"book/a.md": {
			{file: "book/a.md", n: 1, text: "# Title: `here`"},
			{file: "book/a.md", n: 2, text: "See [b](b.md#nowhere), [c](c.md), [self](#title-here), [x](https://x.test/y.md) and `[z](z.md)`."},
		},
		"book/b.md": {{file: "book/b.md", n: 1, text: "## Somewhere"}},
	}
	got := linkProblems(planted, func(p string) bool { _, ok := planted[p]; return ok }, func(string) []docLine { return nil })
	want := []string{
		"book/a.md:2: link b.md#nowhere: no heading #nowhere in book/b.md",
		"book/a.md:2: link c.md: no file book/c.md",
	}
	if !slices.Equal(got, want) {
		t.Errorf("planted link errors: got %q, want %q", got, want)
	}
}

// indexProblems names the pages of book/ that index (book/README.md, or
// the root README.md whose links start with book/) does not link to.
func indexProblems(index []docLine, pages []string) []string {
	linked := map[string]bool{}
	name := "book/README.md"
	for _, l := range index {
		if l.file != "" {
			name = l.file
		}
		for _, m := range linkRE.FindAllStringSubmatch(l.text, -1) {
			path, _, _ := strings.Cut(m[1], "#")
			linked[strings.TrimPrefix(path, "book/")] = true
		}
	}
	var problems []string
	for _, p := range pages {
		if page := filepath.Base(p); page != "README.md" && !linked[page] {
			problems = append(problems, fmt.Sprintf("%s does not list book/%s: add it where a reader needs it", name, page))
		}
	}
	return problems
}

// TestBookIndexListsEveryPage: the book's index, and the README's list of
// pages, name every page.
func TestBookIndexListsEveryPage(t *testing.T) {
	t.Parallel()
	pages, err := filepath.Glob("../../book/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, index := range []string{"../../book/README.md", "../../README.md"} {
		for _, p := range indexProblems(readDoc(t, index), pages) {
			t.Error(p)
		}
	}
	// The check can fail.
	got := indexProblems([]docLine{{text: "1. [Install](install.md)"}}, []string{"../../book/install.md", "../../book/new-page.md", "../../book/README.md"})
	if want := []string{"book/README.md does not list book/new-page.md: add it where a reader needs it"}; !slices.Equal(got, want) {
		t.Errorf("planted: got %q, want %q", got, want)
	}
}

// layoutRows reads the path column of README.md's Layout table.
func layoutRows(t *testing.T) map[string]int {
	t.Helper()
	rows := map[string]int{}
	in := false
	for _, l := range readDoc(t, "../../README.md") {
		switch {
		case strings.HasPrefix(l.text, "## "):
			in = l.text == "## Layout"
		case in && strings.HasPrefix(l.text, "| `"):
			cell, _, _ := strings.Cut(l.text[1:], "|")
			for _, m := range inlineRE.FindAllStringSubmatch(cell, -1) {
				rows[m[1]] = l.n
			}
		}
	}
	if len(rows) == 0 {
		t.Fatal("README.md: no table under ## Layout")
	}
	return rows
}

// layoutProblems compares the Layout table with the package dirs: every
// dir is a row or under one (`internal/*` covers internal's packages), and
// every row exists.
func layoutProblems(rows map[string]int, pkgDirs []string, exists func(string) bool) []string {
	var problems []string
	for _, d := range pkgDirs {
		covered := false
		for r := range rows {
			base := strings.TrimSuffix(r, "/*")
			if d == r || strings.HasPrefix(d, base+"/") {
				covered = true
			}
		}
		if !covered {
			problems = append(problems, fmt.Sprintf("README.md: the Layout table lacks %s (read its package doc comment)", d))
		}
	}
	for r, n := range rows {
		if !exists(strings.TrimSuffix(r, "/*")) {
			problems = append(problems, fmt.Sprintf("README.md:%d: the Layout table lists %s, which does not exist", n, r))
		}
	}
	slices.Sort(problems)
	return problems
}

// TestReadmeLayoutListsEveryPackage: README.md's Layout table names every
// package of the module.
func TestReadmeLayoutListsEveryPackage(t *testing.T) {
	t.Parallel()
	var dirs []string
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, "../../"))
		if d.IsDir() {
			if name := d.Name(); path != "../.." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "tools") {
				return filepath.SkipDir
			}
			return nil
		}
		if dir := filepath.ToSlash(filepath.Dir(rel)); strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") && dir != "." && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join("../..", p)); return err == nil }
	rows := layoutRows(t)
	for _, p := range layoutProblems(rows, dirs, exists) {
		t.Error(p)
	}
	// The check can fail: a new package, a removed one.
	got := layoutProblems(map[string]int{"mail/auth": 3, "internal/*": 4, "gone": 5}, []string{"mail/auth", "mail/newpkg", "internal/safefs"}, func(p string) bool { return p != "gone" })
	want := []string{"README.md: the Layout table lacks mail/newpkg (read its package doc comment)", "README.md:5: the Layout table lists gone, which does not exist"}
	if !slices.Equal(got, want) {
		t.Errorf("planted: got %q, want %q", got, want)
	}
}
