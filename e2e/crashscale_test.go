//go:build !crash

package e2e

// crashScale multiplies the crash test's message count; build with
// `-tags crash` for the large run.
const crashScale = 1
