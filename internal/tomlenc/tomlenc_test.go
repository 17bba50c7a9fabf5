package tomlenc

import (
	"testing"

	"github.com/pelletier/go-toml/v2"
)

func TestStringAndKeyRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`say "hi" \ bye`, `"say \"hi\" \\ bye"`},
		{"a\nb\tc\rd\be\ff", `"a\nb\tc\rd\be\ff"`},
		{"nul\x00del\x7f", `"nul\u0000del\u007F"`},
		{"Grüße ✓", `"Grüße ✓"`},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
		{"'single'", `"'single'"`},
	}
	for _, c := range cases {
		got := String(c.in)
		if got != c.want {
			t.Errorf("String(%q) = %s, want %s", c.in, got, c.want)
		}
		// What we write must read back as the (valid UTF-8) input.
		var v struct{ K string }
		if err := toml.Unmarshal([]byte("K = "+got), &v); err != nil {
			t.Errorf("String(%q) = %s does not parse: %v", c.in, got, err)
		}
	}
	keys := map[string]string{"id": "id", "message_id": "message_id", "a-b": "a-b", "info@a.com": `"info@a.com"`,
		"a.com": `"a.com"`, "": `""`, "x y": `"x y"`}
	for in, want := range keys {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %s, want %s", in, got, want)
		}
	}
}
