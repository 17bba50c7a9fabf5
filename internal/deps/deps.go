//go:build tools

// Package deps pins the modules later packages build on, so go.mod and
// go.sum stay complete while the packages that import them are written.
// Delete an import here once a real package imports it.
package deps

import (
	_ "github.com/yuin/goldmark"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/time/rate"
)
