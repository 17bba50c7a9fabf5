-- Unread listings (book/scale-out.md, "Messages in PostgreSQL"): unread
-- counts come from aimx.folder_counts (011), so the unread index serves
-- the page: in listing order, it finds a folder's few unread messages
-- among many read ones without walking them all, and its many unread
-- ones without sorting them.
DROP INDEX aimx.messages_unread;
CREATE INDEX messages_unread_listing ON aimx.messages (mailbox, folder, skey, ord, id) WHERE NOT read;
