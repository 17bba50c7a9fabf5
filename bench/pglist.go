package main

import "context"

// pgList times email_list at scale in PostgreSQL: written once the message
// tables of pgstore/pgmessages are there.
func (s *session) pgList(ctx context.Context, pg *pgCluster) error {
	_, _ = ctx, pg
	s.note("email_list at 1,000,000 messages in PostgreSQL: not measured in this run.")
	return nil
}
