package workflows

import (
	"io"
	"log/slog"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplaySOSHistory replays the recorded history of a full SOS case (purchase, offer, every step,
// verdict, close; recorded by e2e.TestSOSCaseThroughAPI with STEWARD_RECORD_HISTORY=1). A change to
// SOSWorkflow that would break running cases fails here; guard such changes with workflow.GetVersion.
func TestReplaySOSHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(SOSWorkflow, workflow.RegisterOptions{Name: "SOSWorkflow"})
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := r.ReplayWorkflowHistoryFromJSONFile(logger, "testdata/sos_full_case.json"); err != nil {
		t.Fatalf("replay of testdata/sos_full_case.json: %v", err)
	}
}
