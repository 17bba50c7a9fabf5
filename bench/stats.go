package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// latencies is a set of measured durations.
type latencies []time.Duration

// percentile returns the p-th quantile (0 < p ≤ 1) by nearest rank: the
// smallest value with at least p of the samples at or below it. An empty
// set gives 0.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	k := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// ms formats a duration in milliseconds with precision that suits it.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f ms", f)
	case f >= 10:
		return fmt.Sprintf("%.1f ms", f)
	default:
		return fmt.Sprintf("%.2f ms", f)
	}
}

// secs formats a duration in seconds.
func secs(d time.Duration) string {
	if d < time.Second {
		return ms(d)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// mb formats a size in kB (as /proc reports it) as decimal megabytes.
func mb(kB int64) string { return fmt.Sprintf("%.1f MB", float64(kB)*1024/1e6) }
