-- Keep a message row narrow (book/scale-out.md, "Messages in PostgreSQL"):
-- the frontmatter, body and raw bytes go to the row's TOAST storage
-- whenever the row is over 128 bytes, so a listing filter that scans a
-- folder's rows (from, subject) reads the filter columns, not the mail.
-- The filter columns stay in the row (MAIN: moved out only when nothing
-- else is left to move).
ALTER TABLE aimx.messages SET (toast_tuple_target = 128);
ALTER TABLE aimx.messages
	ALTER COLUMN body SET STORAGE EXTERNAL,
	ALTER COLUMN raw SET STORAGE EXTERNAL,
	ALTER COLUMN from_lc SET STORAGE MAIN,
	ALTER COLUMN subject_lc SET STORAGE MAIN,
	ALTER COLUMN message_id SET STORAGE MAIN,
	ALTER COLUMN thread_id SET STORAGE MAIN,
	ALTER COLUMN labels SET STORAGE MAIN,
	ALTER COLUMN trusted SET STORAGE MAIN,
	ALTER COLUMN delivery_status SET STORAGE MAIN;
