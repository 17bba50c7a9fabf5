-- Dedup keys past their window are pruned per mailbox, now and then, by
-- the message store's Put (book/scale-out.md, "Messages in PostgreSQL").
CREATE INDEX dedup_age ON aimx.dedup (mailbox, received_at);
