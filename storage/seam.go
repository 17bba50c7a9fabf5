package storage

// Seam names a point between two of the store's steps where a test may
// act as an attacker would (swap a directory for a symlink, say), so races
// are driven deterministically rather than by timing (book/security.md).
type Seam string

// The seams tests can stop at.
const (
	// SeamBundleTempMade: a bundle's temp dir was created; nothing is in it yet.
	SeamBundleTempMade Seam = "bundle-temp-made"
	// SeamReadStateLocated: SetRead found the message; it is not read yet.
	SeamReadStateLocated Seam = "read-state-located"
	// SeamMessageOpened: a message's dir was opened; no file in it is yet.
	SeamMessageOpened Seam = "message-opened"
	// SeamIndexBuild: a folder's index build started; nothing is read yet.
	SeamIndexBuild Seam = "index-build"
)

// seam runs the test hook at a seam; a no-op in production.
func (s *Store) seam(at Seam, path string) {
	if s.seamFn != nil {
		s.seamFn(at, path)
	}
}
