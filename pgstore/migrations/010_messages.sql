-- The message store of the postgres backend (book/scale-out.md, "Messages
-- in PostgreSQL"), package pgstore/pgmessages.

-- One row per mailbox that has storage: what the file store keeps as the
-- mailbox's dirs and its owner marker (book/security.md, M6).
CREATE TABLE aimx.mailboxes (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain text NOT NULL,
	local text NOT NULL,
	owner_uid integer,
	UNIQUE (domain, local)
);

-- One row per message of a folder. frontmatter is the whole TOML header
-- in the book/storage.md byte format (storage.EncodeFrontmatter: unknown
-- keys kept); the columns after id are copies of the fields listing
-- filters and sorts on, rewritten with it. body is the .md body (ending in
-- "\n"), raw the .eml (NULL: none). files is what the file store would
-- count for the message: .md, .eml and attachments.
CREATE TABLE aimx.messages (
	mailbox bigint NOT NULL REFERENCES aimx.mailboxes (id) ON DELETE CASCADE,
	folder text NOT NULL CHECK (folder IN ('inbox', 'sent', 'archive', 'trash')),
	id text COLLATE "C" NOT NULL,
	-- Listing order (book/storage.md, "Listing and counting"): the id's
	-- receipt second (its first 17 bytes, or the whole id when it carries
	-- no time), the place within that second, then the id.
	skey text COLLATE "C" NOT NULL,
	ord bigint NOT NULL,
	at_sec bigint,
	received_at timestamptz,
	message_id bytea NOT NULL,
	thread_id bytea NOT NULL,
	from_lc bytea NOT NULL,
	subject_lc bytea NOT NULL,
	trusted text NOT NULL,
	read boolean NOT NULL,
	labels text[] NOT NULL,
	outbound boolean NOT NULL,
	delivery_status text NOT NULL,
	deleted_at timestamptz,
	size_bytes bigint NOT NULL,
	files integer NOT NULL,
	frontmatter bytea NOT NULL,
	body bytea NOT NULL,
	raw bytea,
	stored_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (mailbox, folder, id)
);

-- email_list: newest-first keyset paging per mailbox and folder.
CREATE INDEX messages_listing ON aimx.messages (mailbox, folder, skey, ord, id);
-- Threads and replies find their mail by thread_id and message_id.
CREATE INDEX messages_thread ON aimx.messages (mailbox, folder, thread_id);
CREATE INDEX messages_message_id ON aimx.messages (mailbox, folder, message_id);
-- mailbox_list's unread count, and the trash purge.
CREATE INDEX messages_unread ON aimx.messages (mailbox, folder) WHERE NOT read;
CREATE INDEX messages_trash ON aimx.messages (mailbox, deleted_at) WHERE folder = 'trash';

-- The attachment files of a message, by their stored (sanitized) name.
CREATE TABLE aimx.attachments (
	mailbox bigint NOT NULL,
	folder text NOT NULL,
	id text COLLATE "C" NOT NULL,
	filename text NOT NULL,
	content_type text NOT NULL,
	data bytea NOT NULL,
	PRIMARY KEY (mailbox, folder, id, filename),
	FOREIGN KEY (mailbox, folder, id) REFERENCES aimx.messages (mailbox, folder, id)
		ON DELETE CASCADE ON UPDATE CASCADE
);

-- Intake dedup across nodes (book/smtp.md, "Deduplication"): a key stored
-- within the window refuses the re-delivery, whichever node took it.
CREATE TABLE aimx.dedup (
	mailbox bigint NOT NULL REFERENCES aimx.mailboxes (id) ON DELETE CASCADE,
	key bytea NOT NULL,
	message text COLLATE "C" NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (mailbox, key)
);
