package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// corpus makes the search phase's mail: words drawn from a made-up
// vocabulary with a Zipf distribution (a few words very common, most
// rare, as in real text), so the index holds about as many distinct
// words, and queries of each frequency, as a real mailbox would.
type corpus struct {
	words []string
	cdf   []float64
}

// newCorpus builds a vocabulary of n words, the same for the same seed.
func newCorpus(seed uint64, n int) *corpus {
	r := rand.New(rand.NewPCG(seed, 7))
	c := &corpus{}
	seen := map[string]bool{}
	const cons, vow = "bcdfghjklmnprstvwz", "aeiou"
	for len(c.words) < n {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteByte(cons[r.IntN(len(cons))])
			b.WriteByte(vow[r.IntN(len(vow))])
		}
		if r.IntN(3) == 0 {
			b.WriteByte(cons[r.IntN(len(cons))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			c.words = append(c.words, w)
		}
	}
	sum := 0.0
	c.cdf = make([]float64, n)
	for i := range c.words {
		sum += 1 / math.Pow(float64(i+1), 1.07)
		c.cdf[i] = sum
	}
	for i := range c.cdf {
		c.cdf[i] /= sum
	}
	return c
}

// word draws one word.
func (c *corpus) word(r *rand.Rand) string {
	x := r.Float64()
	lo, hi := 0, len(c.cdf)-1
	for lo < hi {
		m := (lo + hi) / 2
		if c.cdf[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return c.words[lo]
}

// text draws n words in sentences of twelve.
func (c *corpus) text(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			if i%12 == 0 {
				b.WriteString(".\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(c.word(r))
	}
	return b.String()
}

// message draws one message: a sender, a subject of 4 to 8 words and a
// body of 150 to 400 words (about 1 to 2.5 KB).
func (c *corpus) message(r *rand.Rand) (from, subject, body string) {
	from = fmt.Sprintf("%s %s <%s@%s.example.test>", c.word(r), c.word(r), c.word(r), c.word(r))
	return from, c.text(r, 4+r.IntN(5)), c.text(r, 150+r.IntN(250))
}

// queries are the search phase's query mix, by kind: words of each
// frequency, two words, a prefix and a field.
func (c *corpus) queries() map[string][]string {
	w := c.words
	return map[string][]string{
		"common":  {w[3], w[8], w[15], w[30]},
		"medium":  {w[300], w[700], w[1500], w[3000]},
		"rare":    {w[12000], w[20000], w[30000], w[45000]},
		"two":     {w[40] + " " + w[900], w[150] + " " + w[2500], w[10] + " " + w[60]},
		"prefix":  {w[500][:3] + "*", w[2000][:4] + "*"},
		"subject": {"subject:" + w[200], "subject:" + w[5000]},
	}
}
