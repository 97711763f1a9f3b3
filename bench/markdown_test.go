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
	for _, prefix := range []string{"2. step round trip p99", "3. lifecycles/min", "4. worker RSS", "4. evicted cases replayed", "5. notification lateness p99"} {
		l := line(prefix)
		assert.Contains(t, l, "| not run |", prefix)
		assert.NotContains(t, l, "yes", prefix)
		assert.NotContains(t, l, "0 MiB", prefix)
		assert.NotContains(t, l, "0.0 ms", prefix)
	}
	assert.Contains(t, line("4. worker RSS"), "| <1 GiB | not run |", "the target stays, the result says it was not run")
	assert.Contains(t, line("4. evicted cases replayed"), "| 0 failures | not run |", "the target stays, the result says it was not run")
}

// TestReportEvictionReplay: the replay figure states what was stepped and fired and meets its target only
// with no failure, counting the failed steps, the WorkflowTaskFailed events and the worker's own counter.
func TestReportEvictionReplay(t *testing.T) {
	line := func(r *report) string {
		for _, l := range strings.Split(r.markdown(), "\n") {
			if strings.HasPrefix(l, "| 4. evicted cases replayed") {
				return l
			}
		}
		t.Fatal("no replay row")
		return ""
	}
	r := &report{Began: time.Now()}
	r.Plan.Cache = 5000
	r.Replay = replay{Cases: 1000, Timers: 1000, Metrics: true, StepMisses: 1000, TaskFailed: map[string]int{}}
	assert.Equal(t, "| 4. evicted cases replayed (their next step or timer) | 1000 evicted cases stepped, 1000 timers fired; 0 workflow-task failures | — | — | 0 failures | yes |", line(r))

	r.Replay.TaskFailed["NON_DETERMINISTIC_ERROR"] = 2
	assert.Contains(t, line(r), "; 2 workflow-task failures | — | — | 0 failures | **no** |")
	r.Replay.FailedMetric = 3 // the worker counted more than the histories show
	assert.Contains(t, line(r), "; 3 workflow-task failures | — | — | 0 failures | **no** |")
	r.Replay = replay{Cases: 1000, StepFailed: 1}
	assert.Contains(t, line(r), "1000 evicted cases stepped, no timers fired; 0 workflow-task failures, 1 steps failed | — | — | 0 failures | **no** |")
}

// TestCheckReplay: a workflow task failed in a replayed case is an error of the run (the failed steps are
// already), and smoke fails when its tiny cache replayed nothing.
func TestCheckReplay(t *testing.T) {
	r := &report{Plan: plan{Mode: "full", Cache: 5000}}
	r.Replay = replay{Cases: 1000, Timers: 1000, Metrics: true, StepMisses: 1000, TaskFailed: map[string]int{}}
	r.checkReplay(true, true)
	assert.Empty(t, r.Errors, "no failure, and full does not ask for misses on the timers")

	r.Replay.TaskFailed["NON_DETERMINISTIC_ERROR"] = 1
	r.checkReplay(true, true)
	assert.Len(t, r.Errors, 1)
	assert.Contains(t, r.Errors[0], "1 workflow tasks failed")

	r = &report{Plan: plan{Mode: "smoke", Cache: 5}}
	r.Replay = replay{Skipped: "the worker's cache (5) holds all 3 cases figure 4 bought", Timers: 20, Metrics: true}
	r.checkReplay(true, true)
	assert.Len(t, r.Errors, 2, "smoke: nothing stepped, no timer replayed")
}
