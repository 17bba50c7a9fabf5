package setup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// prompter asks the operator questions on a terminal. Non-interactive
// (AIMX_NONINTERACTIVE=1, or no terminal), every question takes its
// default or its flag, and a question without either is an error naming
// the flag (book/install.md, "Without questions").
//
// Input is read by one goroutine into a channel, so the DNS verify loop
// can wait for "Enter to skip" and a later question still gets the next
// line.
type prompter struct {
	in          io.Reader
	out         io.Writer
	interactive bool

	once  sync.Once
	lines chan string
}

// start runs the reader goroutine once; lines is closed at end of input.
func (p *prompter) start() {
	p.once.Do(func() {
		p.lines = make(chan string)
		go func() {
			defer close(p.lines)
			sc := bufio.NewScanner(p.in)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
		}()
	})
}

// readLine waits for the next line of input.
func (p *prompter) readLine(ctx context.Context) (string, error) {
	p.start()
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for an answer: %w", ctx.Err())
	case line, ok := <-p.lines:
		if !ok {
			return "", io.ErrUnexpectedEOF
		}
		return strings.TrimSpace(line), nil
	}
}

// ask asks a question with a default (shown in brackets, taken on an
// empty answer). Non-interactive, it returns def, or an error naming flag
// when there is none.
func (p *prompter) ask(ctx context.Context, question, def, flag string) (string, error) {
	if !p.interactive {
		if def == "" {
			return "", fmt.Errorf("%s: not asked without a terminal (AIMX_NONINTERACTIVE); pass %s", question, flag)
		}
		return def, nil
	}
	for {
		if def != "" {
			fmt.Fprintf(p.out, "%s [%s]: ", question, def)
		} else {
			fmt.Fprintf(p.out, "%s: ", question)
		}
		ans, err := p.readLine(ctx)
		if err != nil {
			return "", fmt.Errorf("%s: no answer (%w); pass %s", question, err, flag)
		}
		if ans == "" {
			ans = def
		}
		if ans != "" {
			return ans, nil
		}
	}
}

// choose asks for one of options (the first is the default).
func (p *prompter) choose(ctx context.Context, question string, options []string, flag string) (string, error) {
	for {
		ans, err := p.ask(ctx, question+" ("+strings.Join(options, "/")+")", options[0], flag)
		if err != nil {
			return "", err
		}
		for _, o := range options {
			if strings.EqualFold(ans, o) {
				return o, nil
			}
		}
		fmt.Fprintf(p.out, "  answer one of: %s\n", strings.Join(options, ", "))
	}
}

// skipped is closed when the operator presses Enter (interactive only);
// the line is consumed. stop ends the wait without consuming anything.
func (p *prompter) skipped(stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	if !p.interactive {
		return done // never closed
	}
	p.start()
	go func() {
		select {
		case <-stop:
		case _, ok := <-p.lines:
			if ok {
				close(done)
			}
		}
	}()
	return done
}
