-- The full-text search index of the postgres backend (book/search.md, "With
-- the postgres backend"), shared by every node. Like the SQLite index it is
-- derived data and holds no text: words and their fields as a tsvector, the
-- fields' lengths (for the ranking's length normalization) and the receipt
-- order.

-- One row per indexed folder: docs and the length sums give the ranking's
-- averages without scanning the documents, and every write locks its
-- folders' rows first, in (mailbox, folder) order, so concurrent writers of
-- several nodes never deadlock and the counts stay exact.
CREATE TABLE aimx.search_boxes (
	id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mailbox text NOT NULL,
	folder text NOT NULL,
	docs bigint NOT NULL DEFAULT 0,
	len_subject bigint NOT NULL DEFAULT 0,
	len_sender bigint NOT NULL DEFAULT 0,
	len_rcpt bigint NOT NULL DEFAULT 0,
	len_body bigint NOT NULL DEFAULT 0,
	UNIQUE (mailbox, folder)
);

-- One row per message. tsv holds each distinct word once per field, its
-- weight naming the field (A subject, B from, C to and cc, D body) at the
-- positions 1 to 4; words are folded (case, diacritics) by aimx before they
-- get here, so no text search configuration is involved. (at, seq) is the
-- receipt order, newest last: seq breaks ties within a time. node and
-- indexed_at say who indexed it when: a node's reconciliation leaves other
-- nodes' newest documents alone.
CREATE TABLE aimx.search_docs (
	box integer NOT NULL REFERENCES aimx.search_boxes (id) ON DELETE CASCADE,
	id text NOT NULL,
	at timestamptz NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	node text NOT NULL,
	indexed_at timestamptz NOT NULL DEFAULT now(),
	len_subject integer NOT NULL,
	len_sender integer NOT NULL,
	len_rcpt integer NOT NULL,
	len_body integer NOT NULL,
	tsv tsvector NOT NULL,
	PRIMARY KEY (box, id)
);

CREATE INDEX search_docs_tsv ON aimx.search_docs USING gin (tsv);
CREATE INDEX search_docs_order ON aimx.search_docs (at DESC, seq DESC);
