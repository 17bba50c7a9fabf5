// Command skipcheck reads `go test -json` on stdin and prints what a person
// reads from plain `go test`: package summary lines, and the whole output of
// failing tests. Run as root, it also fails when a test skipped for a reason
// that says it needs root: CI runs as root so that the root-only
// tests (setuid hooks, peer-uid isolation) run, and a root-only test that
// skips under root would silently test nothing.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// event is one line of test2json output.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// rootSkip matches the skip reasons of root-only tests: by convention they
// say "needs root" or "needs euid 0". A PostgreSQL test skips with "needs
// postgres" only when the server's binaries are missing, and CI installs
// them, so that skip under root is a failure too (book/scale-out.md).
var rootSkip = regexp.MustCompile(`(?i)needs (root|euid 0|postgres)\b`)

func main() {
	asRoot := os.Geteuid() == 0
	outputs := map[string][]string{} // package/test -> output lines
	var badSkips, failed []string
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for in.Scan() {
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			fmt.Println(in.Text()) // build errors and the like are not JSON
			continue
		}
		key := e.Package + "/" + e.Test
		switch e.Action {
		case "build-output":
			fmt.Print(e.Output)
		case "output":
			if e.Test == "" {
				// Package lines: "ok ...", "FAIL ...", build output.
				if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS") {
					fmt.Print(e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "skip":
			if e.Test != "" && asRoot && rootSkip.MatchString(strings.Join(outputs[key], "")) {
				badSkips = append(badSkips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, strings.TrimSpace(lastSkipLine(outputs[key]))))
			}
			delete(outputs, key)
		case "fail":
			if e.Test != "" {
				failed = append(failed, key)
				fmt.Print(strings.Join(outputs[key], ""))
			}
			delete(outputs, key)
		case "pass":
			delete(outputs, key)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck: read:", err)
		os.Exit(1)
	}
	if len(badSkips) > 0 {
		fmt.Println("\nskipcheck: root-only tests skipped while running as root:")
		for _, s := range badSkips {
			fmt.Println("  " + s)
		}
		os.Exit(1)
	}
	if len(failed) > 0 {
		os.Exit(1)
	}
}

func lastSkipLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "SKIP") || strings.Contains(lines[i], ".go:") {
			return lines[i]
		}
	}
	return ""
}
