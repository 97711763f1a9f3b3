package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/steward-oss/steward/devserver"
)

// busyTask stands in for a case's record: a local activity that keeps the workflow task it runs in busy.
func busyTask(context.Context) error {
	time.Sleep(20 * time.Millisecond)
	return nil
}

// clockWave stands in for cases whose clocks fall due together: each waits until due, then wakes rounds
// more times on short timers, so that its tasks keep the worker's sticky queue backlogged for a while.
func clockWave(ctx workflow.Context, due time.Time, rounds int) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.Sleep(ctx, due.Sub(workflow.Now(ctx))); err != nil {
		return err
	}
	for range rounds {
		if err := workflow.ExecuteLocalActivity(ctx, busyTask).Get(ctx, nil); err != nil {
			return err
		}
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// newCase stands in for a case just bought: its first workflow task is on the normal queue.
func newCase(workflow.Context) error { return nil }

// TestNewCaseStartsDuringAClockWave: while a wave of cached cases' clocks keeps the worker's sticky queue
// backlogged, a new case's first workflow task (on the normal queue) still starts without waiting for it. With
// the SDK's default mixed pollers, both pollers go to the sticky queue for as long as it reports a
// backlog, and the new case waits for the whole wave to drain (figure 4 of the benchmark: first tasks
// waited 78-223 s on average and buying stalled when the footprint's response clocks fell due).
func TestNewCaseStartsDuringAClockWave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	if raceDetector {
		// `make test` runs this test a second time, without -race.
		t.Skip("measures queueing; the race detector slows the in-process server so much that every queue waits on it")
	}
	ctx := context.Background()
	c := serverClient(t, devserver.Options{Namespace: "wave"})

	const queue = "wave-test"
	// Two workflow-task slots, each task ~20 ms: the wave's 600 tasks take ~10 s to drain with the mixed
	// pollers and ~20 s with autoscaling ones, which keep one slot for their normal-queue poll.
	w := sdkworker.New(c, queue, pollerOptions(sdkworker.Options{
		MaxConcurrentWorkflowTaskExecutionSize: 2, MaxConcurrentLocalActivityExecutionSize: 2}))
	w.RegisterWorkflowWithOptions(clockWave, workflow.RegisterOptions{Name: "clockWave"})
	w.RegisterWorkflowWithOptions(newCase, workflow.RegisterOptions{Name: "newCase"})
	w.RegisterActivity(busyTask)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	const cases, rounds = 150, 4
	// Started ten at a time, with room to spare before they are due even on a machine busy with other tests.
	due := time.Now().Add(15 * time.Second)
	runs := make([]client.WorkflowRun, cases)
	var g errgroup.Group
	g.SetLimit(10)
	for i := range cases {
		g.Go(func() (err error) {
			runs[i], err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("wave-%03d", i), TaskQueue: queue},
				"clockWave", due, rounds)
			return err
		})
	}
	require.NoError(t, g.Wait())
	require.True(t, time.Now().Before(due), "the wave's cases were started after their clocks were due; the test proves nothing")

	// New cases keep being bought while the wave drains, one every 200 ms for 4 s, as in the benchmark:
	// each takes whatever normal-queue poll the worker has out.
	time.Sleep(time.Until(due) + 500*time.Millisecond)
	var probes []client.WorkflowRun
	for i := range 20 {
		probe, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("new-case-%02d", i), TaskQueue: queue}, "newCase")
		require.NoError(t, err)
		probes = append(probes, probe)
		time.Sleep(200 * time.Millisecond)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // other tests' load slows the wave
	defer cancel()
	var wait time.Duration // the longest a new case's first task waited
	var lastBought time.Time
	for _, probe := range probes {
		require.NoError(t, probe.Get(pctx, nil))
		scheduled, started := firstTaskTimes(t, c, probe)
		wait = max(wait, started.Sub(scheduled))
		if scheduled.After(lastBought) {
			lastBought = scheduled
		}
	}

	var lastClosed time.Time
	for _, run := range runs {
		require.NoError(t, run.Get(pctx, nil))
		d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		require.NoError(t, err)
		if ct := d.WorkflowExecutionInfo.GetCloseTime().AsTime(); ct.After(lastClosed) {
			lastClosed = ct
		}
	}
	drain := lastClosed.Sub(lastBought)
	t.Logf("new cases' first tasks waited up to %s; the wave's last case closed %s after the last new case was bought", wait, drain)
	// The wave was still draining when the last new case was bought: otherwise the test measured an idle worker.
	require.Greater(t, drain, 2*time.Second, "the wave had drained before the new cases were bought")
	// Behind the sticky backlog, the last new case waits about as long as the wave takes to drain after it; with
	// a poller kept on the normal queue, only a small part of that, however slow the machine.
	require.Less(t, 4*wait, drain, "a new case's first workflow task waited behind the sticky queue's backlog")
}

// firstTaskTimes is when a workflow's first workflow task was scheduled and when a worker picked it up.
func firstTaskTimes(t *testing.T, c client.Client, run client.WorkflowRun) (scheduled, started time.Time) {
	it := c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			if scheduled.IsZero() {
				scheduled = e.GetEventTime().AsTime()
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			return scheduled, e.GetEventTime().AsTime()
		}
	}
	t.Fatalf("%s: no workflow task started", run.GetID())
	return
}
