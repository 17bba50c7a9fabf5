package domains

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// LoadOptions tunes Load and Parse.
type LoadOptions struct {
	// LookupOwner resolves a mailbox owner; an owner it cannot resolve is a
	// warning, never an error (book/configuration.md). Nil means LookupOwner (os/user).
	LookupOwner func(name string) (Owner, error)
}

// ErrBothDomainKeys is the error of a config that has a string `domain`
// and a `domains` list (book/configuration.md). The message is fixed by the spec.
var ErrBothDomainKeys = errors.New("specify either 'domain' (singular, legacy) or 'domains' (plural), not both")

// Load reads, parses and validates the config file at path. Errors wrap one
// *ConfigError per broken rule, each naming the file, line and key.
func Load(path string, opts LoadOptions) (*Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	c, err := Parse(data, path, opts)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return c, nil
}

// MaxConfigBytes caps the config file read (book/security.md): a config
// of thousands of mailboxes and hooks is well under it.
const MaxConfigBytes = 16 << 20

// readConfigFile reads the config through the file layer: a FIFO is refused
// without blocking, a file over MaxConfigBytes without being read.
func readConfigFile(path string) ([]byte, error) {
	return safefs.ReadPath(path, MaxConfigBytes)
}

// Parse parses and validates config.toml bytes; file names them in errors
// and warnings.
func Parse(data []byte, file string, opts LoadOptions) (*Config, error) {
	lookup := opts.LookupOwner
	if lookup == nil {
		lookup = LookupOwner
	}
	return parse(data, file, lookup)
}

// parse decodes in two passes (book/configuration.md): a generic map for the shape checks
// that need words rather than a type error (the polymorphic `domain` key),
// then the strict structs, which reject unknown keys with their position.
// A nil lookup skips the owner checks.
func parse(data []byte, file string, lookup func(string) (Owner, error)) (*Config, error) {
	var generic map[string]any
	if err := toml.Unmarshal(data, &generic); err != nil {
		return nil, decodeError(file, err)
	}
	pos := indexPositions(data)
	where := func(path []string) (string, int, int) {
		l, c := pos.lookup(path)
		return renderPath(path), l, c
	}
	legacy, issues := checkShape(generic)
	if len(issues) > 0 {
		return nil, joinIssues(issues, file, where)
	}
	b := builder{file: file, pos: pos}
	if legacy {
		var raw rawFile[string]
		if err := strictDecode(data, &raw); err != nil {
			return nil, decodeError(file, err)
		}
		b.legacyDomain(raw.Domain)
		b.build(&raw.rawCommon, nil)
	} else {
		var raw rawFile[map[string]rawOverride]
		if err := strictDecode(data, &raw); err != nil {
			return nil, decodeError(file, err)
		}
		b.domainList(raw.Domains)
		b.build(&raw.rawCommon, raw.Domain)
	}
	if len(b.issues) > 0 {
		return nil, joinIssues(b.issues, file, where)
	}
	if err := joinIssues(b.cfg.check(), file, b.whereOriginal); err != nil {
		return nil, err
	}
	if lookup != nil {
		b.ownerWarnings(lookup)
	}
	slices.SortStableFunc(b.cfg.Source.Warnings, func(x, y Warning) int { return x.Line - y.Line })
	return b.cfg, nil
}

func strictDecode(data []byte, v any) error {
	return toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(v)
}

// checkShape is the first pass: it reports which form `domain` has and the
// shape errors a strict decode would only report as type errors.
func checkShape(g map[string]any) (legacy bool, issues []issue) {
	var k checker
	if d, ok := g["domain"]; ok {
		switch d.(type) {
		case string:
			legacy = true
			if _, both := g["domains"]; both {
				k.issues = append(k.issues, issue{path: p("domain"), msg: ErrBothDomainKeys.Error(), err: ErrBothDomainKeys})
			}
		case map[string]any:
		default:
			k.add(p("domain"), "'domain' must be a string (the legacy single domain) or a table of per-domain overrides such as [domain.\"a.com\"]")
		}
	}
	if d, ok := g["domains"]; ok {
		if !isStringList(d) {
			k.add(p("domains"), "'domains' must be a list of domain names, like domains = [\"a.com\"]")
		}
	} else if !legacy {
		k.add(p("domains"), "'domains' is required: a list of the mail domains, like domains = [\"a.com\"]")
	}
	// Duration has an integer kind, so the strict decoder would take
	// `dedup_window = 60` as 60ns; durations must be strings.
	for _, path := range durationKeys() {
		v, ok := lookupGeneric(g, path)
		if _, isString := v.(string); ok && !isString {
			k.add(path, "must be a duration string such as \"10s\" or \"168h\"")
		}
	}
	if m, ok := g["mailboxes"]; ok {
		tbl, isTable := m.(map[string]any)
		if !isTable {
			k.add(p("mailboxes"), "'mailboxes' must be a table of mailbox tables such as [mailboxes.\"info@a.com\"]")
		}
		for _, key := range sortedKeys(tbl) {
			mb, isTable := tbl[key].(map[string]any)
			if !isTable {
				k.add(p("mailboxes", key), "a mailbox must be a table such as [mailboxes.%q]", key)
				continue
			}
			if h, ok := mb["hooks"]; ok {
				if _, isList := h.([]any); !isList {
					k.add(p("mailboxes", key, "hooks"), "hooks must be [[mailboxes.%q.hooks]] tables", key)
				}
			}
			if w, ok := mb["webhooks"]; ok {
				if _, isList := w.([]any); !isList {
					k.add(p("mailboxes", key, "webhooks"), "webhooks must be [[mailboxes.%q.webhooks]] tables", key)
				}
			}
		}
	}
	return legacy, k.issues
}

func durationKeys() [][]string {
	return [][]string{{"dedup_window"}, {"smtp", "verify_timeout"}, {"outbound", "retry_base"}, {"outbound", "send_wait"}}
}

func lookupGeneric(g map[string]any, path []string) (any, bool) {
	var v any = g
	for _, part := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

func isStringList(v any) bool {
	l, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range l {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

var goTypeError = regexp.MustCompile(`cannot decode TOML (\w+) into (?:struct field \S+|a Go value) of type (\S+)`)

// decodeError turns a go-toml error into ConfigErrors with positions and
// words in place of Go type names.
func decodeError(file string, err error) error {
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		errs := make([]error, 0, len(missing.Errors))
		for i := range missing.Errors {
			e := &missing.Errors[i]
			line, col := e.Position()
			errs = append(errs, &ConfigError{File: file, Line: line, Column: col, Key: renderPath(e.Key()),
				Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := goTypeError.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("wrong type: a TOML %s where %s was expected", m[1], goTypeWords(m[2]))
		}
		return &ConfigError{File: file, Line: line, Column: col, Key: renderPath(de.Key()), Msg: msg}
	}
	return &ConfigError{File: file, Msg: err.Error()}
}

func goTypeWords(t string) string {
	t = strings.TrimLeft(t, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "domains.raw"):
		return "a table"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "domains.Duration":
		return "a duration string such as \"10s\""
	}
	return "a string"
}
