package domains

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// DeriveHookName computes the name of a hook written without one, as the
// Rust aimx does (book/hooks.md): the first 6 bytes, in lowercase hex, of sha256
// over the event, 0x1F, the argv joined by 0x1F, 0x1F, and one byte 0x00 or
// 0x01 for fire_on_untrusted. The mailbox is not part of it.
func DeriveHookName(event Event, cmd []string, fireOnUntrusted bool) string {
	h := sha256.New()
	h.Write([]byte(event))
	h.Write([]byte{0x1f})
	h.Write([]byte(strings.Join(cmd, "\x1f")))
	h.Write([]byte{0x1f})
	if fireOnUntrusted {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// EffectiveName is the hook's name: Name when set, else the derived name.
func (h Hook) EffectiveName() string {
	if h.Name != "" {
		return h.Name
	}
	return DeriveHookName(h.Event, h.Cmd, h.FireOnUntrusted)
}

// ValidHookName checks a hook name against the grammar of book/hooks.md,
// ^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$, for doors that refuse a name before
// they change the config.
func ValidHookName(s string) error {
	return validHookName(s)
}
