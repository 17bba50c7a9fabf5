package agents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// BackupSuffix names the copy of a file as it was before aimx first
// changed it.
const BackupSuffix = ".aimx-bak"

// Change is one file a Plan writes or deletes.
type Change struct {
	// Path is the file.
	Path string
	// What says what the file is for ("MCP config", "instructions").
	What string
	// Content is the new content; nil with Delete.
	Content []byte
	// Delete removes the file (and PruneDir, when it is left empty).
	Delete   bool
	PruneDir string
	// Existed is true when the file is there now; Unchanged when the new
	// content equals it (nothing is written).
	Existed, Unchanged bool
	// Backup copies the current file to Path+BackupSuffix first, unless
	// that backup exists (it keeps the file as it was before aimx).
	Backup bool
	// Mode is the mode of a new file; an existing file keeps its own.
	Mode fs.FileMode
	// Secret is true when Content holds the token: the file is made
	// private to its owner.
	Secret bool
}

// Plan is every change one command makes, computed before anything is
// written, so that it can be printed instead.
type Plan struct {
	Harness Harness
	Scope   Scope
	Changes []Change
	// secret is the token, replaced when the plan is printed.
	secret string
	// dirMode is the mode of directories Apply creates.
	dirMode fs.FileMode
}

// CheckUser refuses root (euid 0) unless allowed: the harness's files
// belong to the agent's own user, and an agent run as root would be the
// operator on aimx.sock, seeing every mailbox (book/mcp.md, "Who sees
// what").
func CheckUser(euid int, allowRoot bool) error {
	if euid == 0 && !allowRoot {
		return errors.New("aimx agents must run as the agent's own Unix user, not root: an agent running as root is the operator and sees every mailbox. " +
			"Run it as that user (sudo -u USER -H aimx agents ...), or pass --dangerously-allow-root")
	}
	return nil
}

// PlanSetup computes the changes that wire harness h to aimx: the MCP
// config entry and the instructions.
func PlanSetup(h Harness, env Env, r Request) (*Plan, error) {
	if err := checkEnv(env, r.Scope); err != nil {
		return nil, err
	}
	if err := h.supports(r.Scope); err != nil {
		return nil, err
	}
	if err := r.Server.Check(); err != nil {
		return nil, err
	}
	if r.Server.HTTP() && r.Scope == ProjectScope {
		return nil, errors.New("a project's config is often shared (committed to the repository), so aimx does not write a token into it: use --scope user for MCP over HTTP")
	}
	p := newPlan(h, r.Scope, r.Server.Token)
	c, err := codecFor(h.Format)
	if err != nil {
		return nil, err
	}
	path := h.Config(env, r.Scope)
	old, existed, err := readFile(path)
	if err != nil {
		return nil, err
	}
	entry := h.Entry(r.Server)
	content, err := c.put(old, h.ServersPath, ServerName, entry, h.Skeleton)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkEntry(c, content, h.ServersPath, ServerName, entry); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	had, err := hasEntry(c, old, h.ServersPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.add(Change{Path: path, What: "MCP config", Content: content, Existed: existed, Backup: existed && !had,
		Secret: r.Server.HTTP(), Mode: 0o600})

	ins := h.Instructions(env, r.Scope)
	body := instructionsBody(h, env, r)
	old, existed, err = readFile(ins.Path)
	if err != nil {
		return nil, err
	}
	ch := Change{Path: ins.Path, What: "instructions", Existed: existed, Mode: 0o644}
	if ins.Own {
		ch.Content = []byte(ownFile(h, body, description(r)))
		ch.Backup = existed && !bytes.Contains(old, []byte(ownMarker))
	} else {
		ch.Content = []byte(putBlock(string(old), body))
		_, _, had := findBlock(string(old))
		ch.Backup = existed && !had
	}
	p.add(ch)
	return p, nil
}

// PlanRemove computes the changes that take aimx out of harness h's
// config and instructions in a scope, keeping everything else.
func PlanRemove(h Harness, env Env, sc Scope) (*Plan, error) {
	if err := checkEnv(env, sc); err != nil {
		return nil, err
	}
	if err := h.supports(sc); err != nil {
		return nil, err
	}
	p := newPlan(h, sc, "")
	c, err := codecFor(h.Format)
	if err != nil {
		return nil, err
	}
	path := h.Config(env, sc)
	old, existed, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if existed {
		content, had, err := c.drop(old, h.ServersPath, ServerName)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if had {
			if onlySkeleton(c, content, h.Skeleton) {
				content = nil // the file holds nothing but what aimx started it with
			}
			p.add(Change{Path: path, What: "MCP config", Content: content, Delete: content == nil, Existed: true, Mode: 0o600})
		}
	}
	ins := h.Instructions(env, sc)
	old, existed, err = readFile(ins.Path)
	if err != nil || !existed {
		return p, err
	}
	switch {
	case ins.Own && bytes.Contains(old, []byte(ownMarker)):
		p.add(Change{Path: ins.Path, What: "instructions", Delete: true, PruneDir: filepath.Dir(ins.Path), Existed: true})
	case !ins.Own:
		if rest, had := dropBlock(string(old)); had {
			p.add(Change{Path: ins.Path, What: "instructions", Content: []byte(rest), Delete: strings.TrimSpace(rest) == "", Existed: true, Mode: 0o644})
		}
	}
	return p, nil
}

func checkEnv(env Env, sc Scope) error {
	if !filepath.IsAbs(env.Home) {
		return errors.New("HOME is not set to an absolute directory: the harnesses' files are found from it")
	}
	if sc == ProjectScope && !filepath.IsAbs(env.ProjectDir) {
		return errors.New("the project directory must be an absolute path")
	}
	return nil
}

func newPlan(h Harness, sc Scope, secret string) *Plan {
	mode := fs.FileMode(0o700)
	if sc == ProjectScope {
		mode = 0o755
	}
	return &Plan{Harness: h, Scope: sc, secret: secret, dirMode: mode}
}

// add appends c, marking it Unchanged when it would write what is there.
func (p *Plan) add(c Change) {
	if c.Delete {
		c.Content = nil
	} else if c.Existed {
		cur, _, err := readFile(c.Path)
		c.Unchanged = err == nil && bytes.Equal(cur, c.Content)
	}
	if c.Backup {
		_, err := os.Lstat(c.Path + BackupSuffix)
		c.Backup = errors.Is(err, fs.ErrNotExist)
	}
	if c.Unchanged {
		c.Backup = false
	}
	p.Changes = append(p.Changes, c)
}

// onlySkeleton reports whether doc holds exactly the skeleton fields.
func onlySkeleton(c codec, doc []byte, skeleton Entry) bool {
	if doc == nil || len(skeleton) == 0 {
		return false
	}
	m, err := c.decode(doc)
	if err != nil {
		return false
	}
	got, err1 := canonical(m)
	want, err2 := canonical(skeleton.generic())
	return err1 == nil && err2 == nil && reflect.DeepEqual(got, want)
}

// hasEntry reports whether doc already has aimx's entry (so aimx changed
// the file before, and its backup, if any, is older).
func hasEntry(c codec, doc []byte, path []string) (bool, error) {
	m, err := c.decode(doc)
	if err != nil {
		return false, err
	}
	_, ok := lookup(m, append(append([]string{}, path...), ServerName)...)
	return ok, nil
}

// readFile reads a file; a missing one is empty and existed is false.
func readFile(path string) (b []byte, existed bool, err error) {
	b, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %w", err)
	}
	return b, true, nil
}

// Redacted is what replaces the token when a plan is printed.
const Redacted = "<the token, not shown>"

// Print writes the plan as `--print` shows it: each file's path, what
// would happen to it and the exact new content, with the token replaced
// by Redacted. It writes no file.
func (p *Plan) Print(w io.Writer) error { return p.render(w, true) }

func (p *Plan) render(w io.Writer, redact bool) error {
	var b strings.Builder
	if len(p.Changes) == 0 {
		fmt.Fprintf(&b, "%s (%s scope): nothing to change.\n", p.Harness.Title, p.Scope)
	}
	for i, c := range p.Changes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "==> %s (%s: %s)\n", c.Path, c.What, c.action())
		if c.Delete || c.Unchanged {
			continue
		}
		s := string(c.Content)
		if redact && p.secret != "" {
			s = strings.ReplaceAll(s, p.secret, Redacted)
		}
		b.WriteString(s)
		if !strings.HasSuffix(s, "\n") {
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// action describes what happens to the file.
func (c Change) action() string {
	switch {
	case c.Unchanged:
		return "unchanged"
	case c.Delete:
		return "deleted"
	case !c.Existed:
		return "new file"
	case c.Backup:
		return "updated; the current file is first copied to " + filepath.Base(c.Path) + BackupSuffix
	}
	return "updated"
}
