package main

import (
	"fmt"
	"os"
	"strings"
)

// Verdicts of a row against its target.
const (
	held   = "held"
	missed = "**missed**"
	noGoal = "—"
)

// row is one line of the benchmark table: what was measured, the figure,
// the target it is held to and whether it held.
type row struct {
	Measure string
	Figure  string
	Target  string
	Verdict string
}

// check builds a row whose verdict is held when ok.
func check(measure, figure, target string, ok bool) row {
	v := missed
	if ok {
		v = held
	}
	return row{Measure: measure, Figure: figure, Target: target, Verdict: v}
}

// info builds a row with no target.
func info(measure, figure string) row {
	return row{Measure: measure, Figure: figure, Target: noGoal, Verdict: noGoal}
}

// formatTable renders rows as a Markdown table, columns padded so it also
// reads well on a terminal.
func formatTable(rows []row) string {
	head := row{"measure", "figure", "target", "verdict"}
	w := [4]int{}
	all := append([]row{head}, rows...)
	for _, r := range all {
		for i, c := range r.cells() {
			w[i] = max(w[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(cells [4]string) {
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", w[i]-len([]rune(c))))
		}
		b.WriteString("\n")
	}
	line(head.cells())
	var sep [4]string
	for i := range sep {
		sep[i] = strings.Repeat("-", w[i])
	}
	line(sep)
	for _, r := range rows {
		line(r.cells())
	}
	return b.String()
}

func (r row) cells() [4]string { return [4]string{r.Measure, r.Figure, r.Target, r.Verdict} }

// appendRecord appends a dated run (heading, notes and table) to the
// README at path.
func appendRecord(path, heading, notes, table string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("record in %s: %w", path, err)
	}
	_, err = fmt.Fprintf(f, "\n#### %s\n\n%s\n\n%s", heading, notes, table)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record in %s: %w", path, err)
	}
	return nil
}
