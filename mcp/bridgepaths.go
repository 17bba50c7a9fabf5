package mcp

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"syscall"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// DefaultMaxPathBytes caps the files the bridge reads for `paths`: the
// default max_message_bytes, which no message could exceed anyway.
const DefaultMaxPathBytes = 25 << 20

// ReadAttachments returns the bridge's PrepareCall for the send tools'
// `paths` parameter (book/mcp.md, "Attachments"): the bridge runs as the
// agent's user, so it opens each file with that user's rights, never the
// daemon's, and forwards the bytes as `attachments`. Files larger than
// maxBytes, and anything that is not a regular file, are refused before
// they are read whole.
func ReadAttachments(maxBytes int64) func(ctx context.Context, req *mcpgo.CallToolRequest) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPathBytes
	}
	return func(_ context.Context, req *mcpgo.CallToolRequest) error {
		if req.Params.Name != "email_send" && req.Params.Name != "email_reply" {
			return nil
		}
		args, ok := req.Params.Arguments.(map[string]any)
		if !ok {
			return nil
		}
		raw, ok := args["paths"]
		if !ok {
			return nil
		}
		paths, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("paths must be an array of file paths")
		}
		var atts []any
		if prev, ok := args["attachments"].([]any); ok {
			atts = prev
		}
		for _, p := range paths {
			path, ok := p.(string)
			if !ok || path == "" {
				return fmt.Errorf("paths must be an array of file paths")
			}
			data, err := readCapped(path, maxBytes)
			if err != nil {
				return fmt.Errorf("attachment %s: %w", path, err)
			}
			ct := mime.TypeByExtension(filepath.Ext(path))
			if ct == "" {
				ct = "application/octet-stream"
			}
			atts = append(atts, map[string]any{"filename": filepath.Base(path), "content_type": ct,
				"content_base64": base64.StdEncoding.EncodeToString(data)})
		}
		out := make(map[string]any, len(args))
		for k, v := range args {
			out[k] = v
		}
		delete(out, "paths")
		out["attachments"] = atts
		req.Params.Arguments = out
		return nil
	}
}

// readCapped reads a regular file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	// O_NONBLOCK: a FIFO would otherwise hang the bridge at open.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%d bytes, more than the %d a message may hold", st.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than the %d bytes a message may hold", max)
	}
	return data, nil
}
