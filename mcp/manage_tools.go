package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Managing mail (book/mcp.md, "Managing mail"; book/storage.md, "Trash,
// archive and labels"): email_delete moves an email to its mailbox's
// trash (or deletes it for good), email_restore takes it back out,
// email_move archives (archive is a folder, beside inbox and sent) and
// email_label sets the agent's labels.

// anyFolderParam is the folder argument of the tools that reach every
// folder of a mailbox.
func anyFolderParam() schema {
	return enum("Which folder the email is in: inbox (mail received, the default), sent (copies of mail this mailbox sent), archive (mail moved out of the inbox with email_move) or trash (deleted mail).",
		string(storage.Inbox), string(storage.Sent), string(storage.Archive), string(storage.Trash)).with("default", "inbox")
}

// anyFolderArg reads anyFolderParam: inbox (the default), sent, archive
// or trash.
func anyFolderArg(f string) (storage.Folder, error) {
	if f == "" {
		return storage.Inbox, nil
	}
	folder := storage.Folder(strings.ToLower(strings.TrimSpace(f)))
	if folder.Validate() != nil {
		return "", errorf("folder must be inbox, sent, archive or trash, not %q.", cleanHeader(f))
	}
	return folder, nil
}

// trashRetention is how long the trash keeps a deleted email:
// `[storage] trash_retention` (book/configuration.md).
func (s *Server) trashRetention(cfg *domains.Config) time.Duration {
	if cfg != nil && cfg.Storage.TrashRetention > 0 {
		return cfg.Storage.TrashRetention.D()
	}
	return storage.DefaultTrashRetention
}

// EmailDeleteResult is email_delete's result.
type EmailDeleteResult struct {
	ID             string `json:"id" jsonschema:"The email's id (unchanged in the trash)."`
	DeletedForGood bool   `json:"deleted_for_good" jsonschema:"True when the email is gone for good (force, or deleted from the trash); false when it was moved to the trash."`
	Folder         string `json:"folder,omitempty" jsonschema:"Where the email is now: trash. Absent when it was deleted for good."`
	PurgeAfter     string `json:"purge_after,omitempty" jsonschema:"In the trash: when it will be deleted for good (RFC 3339); email_restore brings it back until then."`
}

// EmailMoveResult is the result of email_move and email_restore.
type EmailMoveResult struct {
	ID     string `json:"id" jsonschema:"The email's id (unchanged by the move)."`
	Folder string `json:"folder" jsonschema:"The folder it is in now; pass it as folder to email_read."`
}

// EmailLabelResult is email_label's result.
type EmailLabelResult struct {
	ID     string   `json:"id" jsonschema:"The email's id."`
	Labels []string `json:"labels" jsonschema:"The email's labels now, lowercase, in the order they were added."`
}

func (s *Server) emailLabelTool() *toolDef {
	return &toolDef{
		name:  "email_label",
		title: "Label an email",
		description: "Add labels to an email and remove others, for example to track what you have done with it (waiting-on-customer, invoice, done). " +
			"Labels are lowercase names of 1 to 64 characters, at most 32 per email; adding one already there or removing one that is not changes nothing. " +
			"email_read shows them under extra.labels. They change nothing else: to move mail out of the inbox use email_move.",
		idempotent: true,
		in: object("",
			req("mailbox", mailboxParam()),
			req("id", idParam()),
			opt("folder", anyFolderParam()),
			opt("add", array("Labels to add, such as [\"invoice\", \"waiting-on-customer\"].", str(""))),
			opt("remove", array("Labels to remove.", str(""))),
		),
		out:     resultSchema[EmailLabelResult](""),
		example: map[string]any{"mailbox": "support", "id": "2026-10-07-144513-pricing-for-500-seat", "add": []string{"quote-sent"}},
		handle:  s.emailLabel,
	}
}

func (s *Server) emailMoveTool() *toolDef {
	return &toolDef{
		name:  "email_move",
		title: "Archive or move an email",
		description: "Move a received email between the inbox and the archive: archive it when it is handled, so the inbox (and its unread count) holds only what still needs attention, or bring it back. " +
			"It keeps its id, read state and labels; list the archive with email_list folder archive. Sent copies stay in sent. To delete, use email_delete; to take an email out of the trash, email_restore.",
		idempotent: true,
		in: object("",
			req("mailbox", mailboxParam()),
			req("id", idParam()),
			req("to_folder", enum("Where to move it: archive, or inbox to bring it back.", string(storage.Archive), string(storage.Inbox))),
			opt("folder", anyFolderParam()),
		),
		out:     resultSchema[EmailMoveResult](""),
		example: map[string]any{"mailbox": "support", "id": "2026-10-07-144513-pricing-for-500-seat", "to_folder": "archive"},
		handle:  s.emailMove,
	}
}

func (s *Server) emailDeleteTool() *toolDef {
	return &toolDef{
		name:  "email_delete",
		title: "Delete an email",
		description: "Delete an email: it moves to the mailbox's trash, where email_restore can bring it back until it is deleted for good after the retention period (30 days by default). " +
			"With force true, or for an email already in the trash, it is deleted for good at once: this cannot be undone, so confirm with the user first. " +
			"A sent copy still being delivered cannot be deleted.",
		destructive: true, idempotent: true,
		in: object("",
			req("mailbox", mailboxParam()),
			req("id", idParam()),
			opt("folder", anyFolderParam()),
			opt("force", boolean("Delete for good at once instead of moving to the trash. Cannot be undone.").with("default", false)),
		),
		out:     resultSchema[EmailDeleteResult](""),
		example: map[string]any{"mailbox": "support", "id": "2026-10-07-144513-pricing-for-500-seat"},
		handle:  s.emailDelete,
	}
}

func (s *Server) emailRestoreTool() *toolDef {
	return &toolDef{
		name:  "email_restore",
		title: "Restore an email from the trash",
		description: "Take an email out of the mailbox's trash and put it back in the folder it was deleted from (inbox, archive or sent), with its id, read state and labels. " +
			"List the trash with email_list folder trash to find the id.",
		idempotent: true,
		in:         object("", req("mailbox", mailboxParam()), req("id", idParam())),
		out:        resultSchema[EmailMoveResult](""),
		example:    map[string]any{"mailbox": "support", "id": "2026-10-07-144513-pricing-for-500-seat"},
		handle:     s.emailRestore,
	}
}

// manageErr words a storage error of email_delete, email_move,
// email_restore and email_label for the agent.
func manageErr(err error, mailbox string, from, to storage.Folder, id string) error {
	switch {
	case errors.Is(err, storage.ErrIDTaken):
		return errorf("the %s folder of %s already holds an email with id %q (one from another folder with the same id), so this one stays in %s. "+
			"Delete or move that one first.", to, mailbox, id, from)
	case errors.Is(err, storage.ErrMoveRefused) && from == storage.Sent:
		return errorf("email %q is a sent copy: sent copies stay in the sent folder (email_delete moves them to the trash).", id)
	case errors.Is(err, storage.ErrMoveRefused):
		return errorf("email %q cannot go to %s: received mail moves between inbox and archive; use email_delete for the trash and email_restore to take an email out of it.", id, to)
	}
	return emailErr(err, mailbox, from, id)
}

// emailDelete answers email_delete.
func (s *Server) emailDelete(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox string `json:"mailbox"`
		ID      string `json:"id"`
		Folder  string `json:"folder"`
		Force   bool   `json:"force"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	folder, err := anyFolderArg(args.Folder)
	if err != nil {
		return nil, "", err
	}
	ref := domains.MailboxRef(m.Name)
	if folder == storage.Sent {
		// A sent copy still being delivered keeps its delivery state in
		// sent (book/sending.md): deleting it would lose that.
		msg, err := s.deps.Store.Read(ctx, ref, folder, args.ID)
		if err != nil {
			return nil, "", emailErr(err, m.Name, folder, args.ID)
		}
		if st := msg.Frontmatter.DeliveryStatus; st == "queued" || st == "deferred" {
			return nil, "", errorf("email %q is still being delivered (delivery_status %s), so it cannot be deleted yet; delete it once email_status reports delivered or failed.", args.ID, st)
		}
	}
	if args.Force || folder == storage.Trash {
		if _, err := s.deps.Store.Delete(ctx, ref, folder, args.ID); err != nil {
			return nil, "", emailErr(err, m.Name, folder, args.ID)
		}
		return EmailDeleteResult{ID: args.ID, DeletedForGood: true},
			fmt.Sprintf("%s was deleted for good from the %s folder of %s.", args.ID, folder, m.Name), nil
	}
	fm, err := s.deps.Store.Move(ctx, ref, folder, storage.Trash, args.ID)
	if err != nil {
		return nil, "", manageErr(err, m.Name, folder, storage.Trash, args.ID)
	}
	retention := s.trashRetention(c.cfg)
	// Empty what expired while we are here; the daemon also does it
	// periodically. A failure costs nothing but a later purge.
	if _, err := s.deps.Store.PurgeTrash(ctx, ref, time.Now().Add(-retention)); err != nil {
		s.deps.Log.Warn().Err(err).Str("mailbox", m.Name).Msg("trash purge")
	}
	at, _ := storage.TrashInfo(fm)
	if at.IsZero() {
		at = time.Now()
	}
	res := EmailDeleteResult{ID: args.ID, Folder: string(storage.Trash), PurgeAfter: rfc3339(at.Add(retention).UTC())}
	return res, fmt.Sprintf("%s was moved to the trash of %s; it is deleted for good after %s. email_restore brings it back until then.",
		args.ID, m.Name, res.PurgeAfter), nil
}

// emailRestore answers email_restore.
func (s *Server) emailRestore(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox string `json:"mailbox"`
		ID      string `json:"id"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	ref := domains.MailboxRef(m.Name)
	msg, err := s.deps.Store.Read(ctx, ref, storage.Trash, args.ID)
	if err != nil {
		return nil, "", emailErr(err, m.Name, storage.Trash, args.ID)
	}
	to := storage.RestoreFolder(msg.Frontmatter)
	if _, err := s.deps.Store.Move(ctx, ref, storage.Trash, to, args.ID); err != nil {
		return nil, "", manageErr(err, m.Name, storage.Trash, to, args.ID)
	}
	return EmailMoveResult{ID: args.ID, Folder: string(to)},
		fmt.Sprintf("%s is back in the %s folder of %s.", args.ID, to, m.Name), nil
}

// emailMove answers email_move.
func (s *Server) emailMove(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox  string `json:"mailbox"`
		ID       string `json:"id"`
		Folder   string `json:"folder"`
		ToFolder string `json:"to_folder"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	from, err := anyFolderArg(args.Folder)
	if err != nil {
		return nil, "", err
	}
	to := storage.Folder(strings.ToLower(strings.TrimSpace(args.ToFolder)))
	switch to {
	case storage.Archive, storage.Inbox:
	case storage.Trash:
		return nil, "", errorf("to delete an email, call email_delete; to_folder is archive or inbox.")
	default:
		return nil, "", errorf("to_folder must be archive or inbox, not %q.", cleanHeader(args.ToFolder))
	}
	if _, err := s.deps.Store.Move(ctx, domains.MailboxRef(m.Name), from, to, args.ID); err != nil {
		return nil, "", manageErr(err, m.Name, from, to, args.ID)
	}
	return EmailMoveResult{ID: args.ID, Folder: string(to)},
		fmt.Sprintf("%s was moved from the %s folder to the %s folder of %s.", args.ID, from, to, m.Name), nil
}

// emailLabel answers email_label.
func (s *Server) emailLabel(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox string   `json:"mailbox"`
		ID      string   `json:"id"`
		Folder  string   `json:"folder"`
		Add     []string `json:"add"`
		Remove  []string `json:"remove"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	folder, err := anyFolderArg(args.Folder)
	if err != nil {
		return nil, "", err
	}
	if len(args.Add) == 0 && len(args.Remove) == 0 {
		return nil, "", errorf("pass the labels to add or remove, such as add: [\"invoice\"].")
	}
	for _, l := range append(append([]string(nil), args.Add...), args.Remove...) {
		if _, err := storage.NormalizeLabel(l); err != nil {
			return nil, "", errorf("the label %q cannot be used: a label is 1 to %d characters with no line break, control, bidi or zero-width character.",
				cleanHeader(l), storage.MaxLabelChars)
		}
	}
	fm, err := s.deps.Store.SetLabels(ctx, domains.MailboxRef(m.Name), folder, args.ID, args.Add, args.Remove)
	if errors.Is(err, storage.ErrInvalidLabel) {
		return nil, "", errorf("an email carries at most %d labels; remove some first.", storage.MaxLabels)
	}
	if err != nil {
		return nil, "", emailErr(err, m.Name, folder, args.ID)
	}
	labels := nonNil(cleanHeaders(fm.Labels()))
	text := fmt.Sprintf("%s has no labels now.", args.ID)
	if len(labels) > 0 {
		text = fmt.Sprintf("%s is labelled %s.", args.ID, strings.Join(labels, ", "))
	}
	return EmailLabelResult{ID: args.ID, Labels: labels}, text, nil
}
