-- Folder counts for listings and mailbox_list (book/scale-out.md, "Messages
-- in PostgreSQL"): every change of a message row adds a delta row here
-- (no row is updated, so concurrent writers never wait for each other);
-- a folder's counts are the sums of its rows, and its rows are now and
-- then folded into one (aimx.compact_folder_counts).
CREATE TABLE aimx.folder_counts (
	mailbox bigint NOT NULL,
	folder text NOT NULL,
	total bigint NOT NULL,
	unread bigint NOT NULL
);
CREATE INDEX folder_counts_folder ON aimx.folder_counts (mailbox, folder);

CREATE FUNCTION aimx.count_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- A row removed by a mailbox's removal (the cascade) counts for
	-- nothing: its mailbox is gone, and so are its counts.
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO aimx.folder_counts (mailbox, folder, total, unread)
		SELECT OLD.mailbox, OLD.folder, -1, CASE WHEN OLD.read THEN 0 ELSE -1 END
		WHERE EXISTS (SELECT 1 FROM aimx.mailboxes WHERE id = OLD.mailbox);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO aimx.folder_counts (mailbox, folder, total, unread)
		VALUES (NEW.mailbox, NEW.folder, 1, CASE WHEN NEW.read THEN 0 ELSE 1 END);
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER messages_count AFTER INSERT OR DELETE ON aimx.messages
	FOR EACH ROW EXECUTE FUNCTION aimx.count_messages();
CREATE TRIGGER messages_count_change AFTER UPDATE OF folder, read ON aimx.messages
	FOR EACH ROW WHEN (OLD.folder IS DISTINCT FROM NEW.folder OR OLD.read IS DISTINCT FROM NEW.read)
	EXECUTE FUNCTION aimx.count_messages();

CREATE FUNCTION aimx.forget_mailbox_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM aimx.folder_counts WHERE mailbox = OLD.id;
	RETURN NULL;
END $$;

CREATE TRIGGER mailboxes_forget_counts AFTER DELETE ON aimx.mailboxes
	FOR EACH ROW EXECUTE FUNCTION aimx.forget_mailbox_counts();

-- Folds a folder's delta rows into one. Two nodes folding at once: the
-- second waits for the first's deleted rows and skips them.
CREATE FUNCTION aimx.compact_folder_counts(mbox bigint, fold text) RETURNS void LANGUAGE sql AS $$
	WITH gone AS (
		DELETE FROM aimx.folder_counts WHERE mailbox = mbox AND folder = fold RETURNING total, unread)
	INSERT INTO aimx.folder_counts (mailbox, folder, total, unread)
	SELECT mbox, fold, sum(total), sum(unread) FROM gone HAVING count(*) > 0
$$;

-- Messages stored before this version.
INSERT INTO aimx.folder_counts (mailbox, folder, total, unread)
SELECT mailbox, folder, count(*), count(*) FILTER (WHERE NOT read) FROM aimx.messages GROUP BY mailbox, folder;
