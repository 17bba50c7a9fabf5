package domains

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// bookExample extracts the complete example from book/configuration.md:
// the ```toml block that follows the marker comment, so the book and the
// loader cannot drift apart.
func bookExample() ([]byte, error) {
	doc, err := os.ReadFile("../book/configuration.md")
	if err != nil {
		return nil, err
	}
	const marker = "<!-- example: complete -->"
	_, rest, ok := bytes.Cut(doc, []byte(marker))
	if !ok {
		return nil, errors.New("book/configuration.md has no " + marker)
	}
	_, rest, ok = bytes.Cut(rest, []byte("```toml\n"))
	if !ok {
		return nil, errors.New("no toml block after the marker")
	}
	block, _, ok := bytes.Cut(rest, []byte("```"))
	if !ok {
		return nil, errors.New("unterminated toml block")
	}
	return block, nil
}

func TestBookExampleLoads(t *testing.T) {
	t.Parallel()
	data, err := bookExample()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, "book/configuration.md", LoadOptions{LookupOwner: stubOwners})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Domains) < 2 || len(c.Overrides) == 0 || len(c.AllHooks()) == 0 {
		t.Fatalf("the example should show several domains, an override and hooks: %+v", c)
	}
	if len(c.Source.Warnings) != 0 {
		t.Fatalf("the example should load without warnings: %v", c.Source.Warnings)
	}
	if _, err := c.ResolveRecipient("postmaster@" + c.Domains[1]); err != nil {
		t.Fatalf("the example should route postmaster of its second domain to a catchall: %v", err)
	}
	back, err := Parse(c.Encode(), "rewrite", LoadOptions{LookupOwner: stubOwners})
	if err != nil || !Equal(back, c) {
		t.Fatalf("the example does not survive a rewrite: %v", err)
	}
}
