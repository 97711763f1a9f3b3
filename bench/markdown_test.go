package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestReportMarksFiguresNotRun: a figure whose phase did not run reads "not run" in every cell it would fill,
// never "0 MiB … yes" or "0.0 ms … yes"; a figure that ran shows its numbers and whether it met its target.
func TestReportMarksFiguresNotRun(t *testing.T) {
	r := &report{Began: time.Now()}
	r.StartAPI, r.StartRaw = 95, 100 // only figure 1 ran
	text := r.markdown()
	line := func(prefix string) string {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "| "+prefix) {
				return l
			}
		}
		t.Fatalf("no row %q", prefix)
		return ""
	}
	assert.Equal(t, "| 1. starts/s (`POST /v1/purchases` vs `ExecuteWorkflow`) | 95/s | 100/s | 0.95 | ≥0.9 | yes |", line("1. starts/s"))
	for _, prefix := range []string{"2. step round trip p99", "3. lifecycles/min", "4. worker RSS", "5. notification lateness p99"} {
		l := line(prefix)
		assert.Contains(t, l, "| not run |", prefix)
		assert.NotContains(t, l, "yes", prefix)
		assert.NotContains(t, l, "0 MiB", prefix)
		assert.NotContains(t, l, "0.0 ms", prefix)
	}
	assert.Contains(t, line("4. worker RSS"), "| <1 GiB | not run |", "the target stays, the result says it was not run")
}
