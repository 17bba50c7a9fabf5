package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/mcp"
)

// maxBodyFile caps --body-file and --html-body: the composer's 5 MiB body
// cap (book/sending.md, "Limits"), plus one byte to tell "over".
const maxBodyFile = 5<<20 + 1

type sendFlags struct {
	from, to, cc, bcc, subject string
	body, bodyFile, htmlBody   string
	attachments                []string
	inReplyTo, replyTo         string
	autoSubmitted              string
	textOnly                   bool
}

func (a *app) sendCommand() *cobra.Command {
	var f sendFlags
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Send an email from one of your mailboxes",
		Long: "Send an email through the daemon, as the current user (email_send over aimx.sock, book/sending.md).\n" +
			"The body is Markdown unless --text-only; --html-body sends your own HTML part. Files named with\n" +
			"--attachment, --body-file and --html-body are read by this command, as you, never by the daemon.\n" +
			"Prints the Message-ID (with --json, the whole result with each recipient's state).",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error { return a.send(f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "the mailbox to send from (full address or local part on the default domain)")
	fl.StringVar(&f.to, "to", "", "recipients, comma-separated")
	fl.StringVar(&f.cc, "cc", "", "Cc recipients, comma-separated")
	fl.StringVar(&f.bcc, "bcc", "", "Bcc recipients, comma-separated (never shown)")
	fl.StringVar(&f.subject, "subject", "", "the subject")
	fl.StringVar(&f.body, "body", "", "the body (Markdown unless --text-only)")
	fl.StringVar(&f.bodyFile, "body-file", "", "read the body from this file (- for stdin)")
	fl.StringArrayVar(&f.attachments, "attachment", nil, "attach this file (repeatable)")
	fl.StringVar(&f.inReplyTo, "in-reply-to", "", "the Message-ID this email answers")
	fl.StringVar(&f.replyTo, "reply-to", "", "where replies should go")
	fl.BoolVar(&f.textOnly, "text-only", false, "send plain text only, no HTML part")
	fl.StringVar(&f.htmlBody, "html-body", "", "a file holding your own HTML part")
	fl.StringVar(&f.autoSubmitted, "auto-submitted", "", "Auto-Submitted field: no, auto-replied or auto-generated (default auto-replied when run by a hook, else none)")
	return cmd
}

func (a *app) send(f sendFlags) error {
	switch {
	case f.from == "" || f.to == "" || f.subject == "":
		return usageError{errors.New("--from, --to and --subject are required")}
	case (f.body == "") == (f.bodyFile == ""):
		return usageError{errors.New("give the body with exactly one of --body and --body-file")}
	case f.textOnly && f.htmlBody != "":
		return usageError{errors.New("--text-only and --html-body exclude each other")}
	}
	args := map[string]any{"from_mailbox": f.from, "to": f.to, "subject": f.subject, "body": f.body}
	for k, v := range map[string]string{"cc": f.cc, "bcc": f.bcc, "in_reply_to": f.inReplyTo, "reply_to": f.replyTo} {
		if v != "" {
			args[k] = v
		}
	}
	if f.textOnly {
		args["text_only"] = true
	}
	// A send a hook runs is an automatic answer (RFC 3834 5): marked so,
	// other agents' hooks do not answer it back (book/sending.md, "Loop
	// protection").
	if f.autoSubmitted == "" && a.env["AIMX_JOB_ID"] != "" {
		f.autoSubmitted = "auto-replied"
	}
	if f.autoSubmitted != "" {
		args["auto_submitted"] = f.autoSubmitted
	}
	if f.bodyFile != "" {
		b, err := a.readBodyFile(f.bodyFile)
		if err != nil {
			return fmt.Errorf("--body-file: %w", err)
		}
		args["body"] = b
	}
	if f.htmlBody != "" {
		b, err := a.readBodyFile(f.htmlBody)
		if err != nil {
			return fmt.Errorf("--html-body: %w", err)
		}
		args["html_body"] = b
	}
	if len(f.attachments) > 0 {
		// The stdio bridge's reader: the files are opened here, as the
		// caller, and only their bytes reach the daemon.
		paths := make([]any, len(f.attachments))
		for i, p := range f.attachments {
			paths[i] = p
		}
		args["paths"] = paths
		req := mcpgo.CallToolRequest{}
		req.Params.Name = "email_send"
		req.Params.Arguments = args
		if err := mcp.ReadAttachments(0)(a.ctx, &req); err != nil {
			return fmt.Errorf("--attachment: %w", err)
		}
		args = req.Params.Arguments.(map[string]any)
	}
	raw, _, err := a.callTool("email_send", args)
	if err != nil {
		return err
	}
	if a.json {
		_, err := a.stdout.Write(append(raw, '\n'))
		return err
	}
	var res struct {
		MessageID  string `json:"message_id"`
		Recipients []struct {
			Address, Status, Detail string
		} `json:"recipients"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("email_send result: %w", err)
	}
	fmt.Fprintf(a.stdout, "<%s>\n", res.MessageID)
	for _, r := range res.Recipients {
		line := fmt.Sprintf("  %s: %s", r.Address, r.Status)
		if r.Detail != "" {
			line += " (" + r.Detail + ")"
		}
		fmt.Fprintln(a.stderr, line)
	}
	return nil
}

// readBodyFile reads a body file (or stdin for "-") up to the body cap.
func (a *app) readBodyFile(name string) (string, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBodyFile))
	if err != nil {
		return "", err
	}
	if len(b) >= maxBodyFile {
		return "", fmt.Errorf("more than %d bytes", maxBodyFile-1)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}
