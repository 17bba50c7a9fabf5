package inbound

import (
	"context"
	"time"

	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

// threadLookupTimeout bounds the parent lookup of threadFor. The index
// load it may wait for goes on without it, so later replies find it ready.
const threadLookupTimeout = 2 * time.Second

// threadFor returns the thread_id of the copy stored in one mailbox
// (book/storage.md, thread_id; book/mcp.md, "Threads"). It is
// message.ThreadID, the hash of the thread's root id, except for a reply
// that names its parent only in In-Reply-To (no References, as some
// clients write): message.ThreadID would make the parent's id the root of
// a new thread, so when the parent (by its Message-ID) is stored in this
// mailbox, sent copies first, then the inbox, the reply takes the
// parent's thread_id. A failed lookup keeps message.ThreadID: threading is
// a convenience, never a reason to refuse mail, and the lookup gives up
// after threadLookupTimeout (a large folder's index still loading after a
// start) rather than hold the sender's 250.
func (x *delivery) threadFor(ctx context.Context, ref storage.MailboxRef) string {
	m := x.msg
	own := message.ThreadID(m)
	if len(m.References) > 0 || m.InReplyTo == "" || m.InReplyTo == m.MessageID {
		return own
	}
	ctx, cancel := context.WithTimeout(ctx, threadLookupTimeout)
	defer cancel()
	for _, f := range []storage.Folder{storage.Sent, storage.Inbox} {
		res, err := x.d.cfg.Store.List(ctx, storage.ListQuery{Mailbox: ref, Folder: f, MessageID: m.InReplyTo, Limit: 1})
		if err != nil {
			x.d.cfg.Log.Warn().Err(err).Str("mailbox", ref.String()).Str("message_id", m.MessageID).
				Msg("parent of a reply not looked up; it starts its own thread")
			return own
		}
		if len(res.Messages) > 0 && res.Messages[0].Frontmatter != nil && res.Messages[0].Frontmatter.ThreadID != "" {
			return res.Messages[0].Frontmatter.ThreadID
		}
	}
	return own
}
