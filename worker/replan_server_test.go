package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// awaitCalendar stands in for a case planned without 2027's data: it waits for the worker's signal.
func awaitCalendar(ctx workflow.Context) (workflows.CalendarUpdate, error) {
	var u workflows.CalendarUpdate
	workflow.GetSignalChannel(ctx, workflows.SignalCalendarUpdated).Receive(ctx, &u)
	return u, nil
}

// TestReplannerOnServer: on a real server, with steward's search attributes, the Replanner's query finds
// the running case whose SlaReplan says it awaits 2027's data, and not one planned with every year's.
func TestReplannerOnServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx := context.Background()
	c := serverClient(t, devserver.Options{Namespace: "replan", SearchAttributes: workflows.SearchAttributes()})

	w := sdkworker.New(c, "replan-test", sdkworker.Options{})
	w.RegisterWorkflowWithOptions(awaitCalendar, workflow.RegisterOptions{Name: "awaitCalendar"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	start := func(id string, values ...string) client.WorkflowRun {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "replan-test",
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrSLAReplan.ValueSet(values))}, "awaitCalendar")
		require.NoError(t, err)
		return run
	}
	waiting := start("sos:WAIT", workflows.ReplanAwaiting(2027))
	start("sos:DONE", workflows.ReplanDone(2026))

	r := &Replanner{Temporal: c, Calendars: calendarsWith(t, "2027"), Now: func() time.Time { return time.Date(2027, 1, 2, 9, 0, 0, 0, sla.China) }}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		n, err := r.Signal(ctx)
		assert.NoError(ct, err)
		assert.Equal(ct, 1, n) // visibility catches up with the starts
	}, 20*time.Second, 200*time.Millisecond)
	var u workflows.CalendarUpdate
	require.NoError(t, waiting.Get(ctx, &u))
	assert.Contains(t, u.Versions[len(u.Versions)-1], "cn-2027@")
}

// serverClient starts an in-memory Temporal server with opts (its namespace, search attributes) on a free
// port and returns a client of its namespace; both end with the test.
func serverClient(t *testing.T, opts devserver.Options) client.Client {
	t.Helper()
	opts.InMemory, opts.FrontendPort = true, devserver.PickFreePort
	srv, err := devserver.Start(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: opts.Namespace})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}
