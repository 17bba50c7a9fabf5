package mcp

import (
	"context"
	"errors"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
)

// EditorHooks is the HookAdmin the daemon uses: the hooks package's
// Editor (config rewrite plus publish), with its validation errors turned
// into sentences for the agent.
type EditorHooks struct {
	Editor *hooks.Editor
}

var _ HookAdmin = EditorHooks{}

// CreateHook adds the hook through the Editor.
func (a EditorHooks) CreateHook(_ context.Context, mailbox string, h domains.Hook) (string, error) {
	ref, err := a.Editor.Create(hooks.NewHook{Mailbox: mailbox, Event: h.Event, Cmd: h.Cmd, Name: h.Name,
		TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted})
	if errors.Is(err, hooks.ErrInvalidHook) || errors.Is(err, hooks.ErrHookExists) {
		return "", errorf("the hook was not created: %s.", strings.TrimSuffix(err.Error(), "."))
	}
	if err != nil {
		return "", err
	}
	return ref.EffectiveName(), nil
}

// DeleteHook removes the hook through the Editor.
func (a EditorHooks) DeleteHook(_ context.Context, name string) error {
	_, err := a.Editor.Delete(name)
	if errors.Is(err, hooks.ErrHookNotFound) {
		return errHookNotFound(name)
	}
	return err
}
