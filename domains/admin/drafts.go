package admin

import (
	"context"
	"errors"

	"github.com/aimx-dev/aimx/operations"
)

// Draft is one send held for approval (book/sending.md, "Send policy").
type Draft = operations.Draft

// DraftList is the body of GET /v1/drafts.
type DraftList struct {
	Drafts []Draft `json:"drafts"`
}

// ListDrafts lists every held send, oldest first.
func (a *Admin) ListDrafts(ctx context.Context) (DraftList, error) {
	if a.Drafts == nil {
		return DraftList{}, apiErr(CodeInternal, "drafts are not kept here: start aimx serve")
	}
	list, err := a.Drafts.List(ctx, nil)
	return DraftList{Drafts: list}, err
}

// ApproveDraft releases a held send for delivery.
func (a *Admin) ApproveDraft(ctx context.Context, id string) (Draft, error) {
	return a.decide(ctx, id, true)
}

// RejectDraft drops a held send.
func (a *Admin) RejectDraft(ctx context.Context, id string) (Draft, error) {
	return a.decide(ctx, id, false)
}

func (a *Admin) decide(ctx context.Context, id string, approve bool) (Draft, error) {
	if a.Drafts == nil {
		return Draft{}, apiErr(CodeInternal, "drafts are not kept here: start aimx serve")
	}
	var d Draft
	var err error
	if approve {
		d, err = a.Drafts.Approve(ctx, id)
	} else {
		d, err = a.Drafts.Reject(ctx, id)
	}
	if errors.Is(err, operations.ErrNoDraft) {
		return Draft{}, apiErr(CodeNotFound, "no draft %q is waiting; aimx drafts list shows them", id)
	}
	if err == nil {
		verb := "rejected"
		if approve {
			verb = "approved"
		}
		a.Log.Info().Str("draft", d.ID).Str("mailbox", d.Mailbox).Str("sent_id", d.SentID).Msg("admin: draft " + verb)
	}
	return d, err
}
