-- Folding a folder's count rows (aimx.compact_folder_counts) leaves them
-- dead; vacuum them soon, so summing a folder's counts stays an index
-- lookup of a few rows (book/scale-out.md, "Messages in PostgreSQL").
ALTER TABLE aimx.folder_counts SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
	autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
