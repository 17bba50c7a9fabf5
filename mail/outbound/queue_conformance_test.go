package outbound_test

import (
	"testing"

	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/mail/outbound/queuetest"
)

// TestFileQueueConformance runs the outbound.Queue suite against the file
// queue (the PostgreSQL queue runs it in pgstore/pgqueue).
func TestFileQueueConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) outbound.Queue {
		q, err := outbound.OpenFileQueue(t.TempDir(), outbound.FileQueueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
}
