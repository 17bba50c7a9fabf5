//go:build crash

package e2e

const crashScale = 25
