package workflows_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/worker"
)

// The replay tests replay every history recorded in testdata/ against the workflow code as it is now,
// with every workflow registered under the name the worker registers it by. A change that would break a
// running case (a new, removed or reordered command: activity, timer, child workflow, signal, side
// effect) fails TestReplayRecordedHistories; guard such changes with workflow.GetVersion, and keep the
// old histories. TestRecordedHistoriesCoverEveryWorkflow fails when a workflow the worker registers has
// no recorded history, so a new kind cannot go without one.
//
// The histories are recorded from a real server (an embedded dev server, the worker and the API) by the
// end-to-end tests: TestSOSCaseThroughAPI, TestDengbaoThroughAPI, TestCatalogueThroughAPI and the
// *History* tests in e2e/history_test.go, which also make the long-running lifecycles continue as new.
// Each names the files it writes, workflows/testdata/<kind>_<scenario>.json, in its recordHistory calls
// (e2e/harness_test.go); a case still running is recorded between workflow tasks and replays up to its
// last event. To re-record them all (about a minute and a half; delete files of scenarios that no longer
// exist by hand):
//
//	STEWARD_RECORD_HISTORY=1 go test -count=1 -run 'TestSOSCaseThroughAPI|TestDengbaoThroughAPI|TestCatalogueThroughAPI|History' ./e2e/
//
// Re-recording overwrites the files. steward has not been released, so the histories are of the code as
// it is; from the first release on, a change that alters a workflow's commands goes behind
// workflow.GetVersion, and the histories recorded before it are kept under new names and replayed too.

// registered returns the workflows the worker registers, by registered name.
func registered(t *testing.T) map[string]any {
	t.Helper()
	r := &registry{workflows: map[string]any{}}
	worker.Register(r, nil)
	if len(r.workflows) == 0 {
		t.Fatal("the worker registers no workflows")
	}
	return r.workflows
}

// registry records what worker.Register registers; activities are not replayed (their results are in
// the history).
type registry struct{ workflows map[string]any }

func (r *registry) RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions) {
	r.workflows[options.Name] = w
}

func (r *registry) RegisterActivity(any) {}

func historyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	return files
}

// workflowType reads the workflow type a recorded history starts.
func workflowType(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Events []struct {
			Started *struct {
				WorkflowType struct {
					Name string `json:"name"`
				} `json:"workflowType"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(h.Events) == 0 || h.Events[0].Started == nil {
		t.Fatalf("%s: the history does not begin with a workflow execution started event", path)
	}
	return h.Events[0].Started.WorkflowType.Name
}

// TestReplayRecordedHistories replays each testdata/*.json with every registered workflow.
func TestReplayRecordedHistories(t *testing.T) {
	wfs := registered(t)
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, path := range historyFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			r := sdkworker.NewWorkflowReplayer()
			for name, wf := range wfs {
				r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: name})
			}
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, path); err != nil {
				t.Fatalf("replay of %s (%s): %v", path, workflowType(t, path), err)
			}
		})
	}
}

// TestRecordedHistoriesCoverEveryWorkflow: every workflow the worker registers, and every lifecycle the
// API starts, has at least one recorded history; every recorded history is of a registered workflow.
func TestRecordedHistoriesCoverEveryWorkflow(t *testing.T) {
	wfs := registered(t)
	recorded := map[string][]string{}
	for _, path := range historyFiles(t) {
		name := workflowType(t, path)
		recorded[name] = append(recorded[name], filepath.Base(path))
		if _, ok := wfs[name]; !ok {
			t.Errorf("%s is a history of %s, which the worker does not register", path, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(wfs)) {
		if len(recorded[name]) == 0 {
			t.Errorf("no recorded history of %s in testdata/: drive one through an e2e test and record it with STEWARD_RECORD_HISTORY=1", name)
			continue
		}
		t.Logf("%s: %s", name, strings.Join(recorded[name], ", "))
	}
	for service, lc := range worker.Lifecycles {
		// The API starts a case by its type name; a client given the function would use the function's name.
		if wf, ok := wfs[lc.WorkflowType()]; !ok || reflect.ValueOf(wf).Pointer() != reflect.ValueOf(lc.Workflow()).Pointer() {
			t.Errorf("the %s lifecycle starts type %q, which the worker does not register for its workflow", service, lc.WorkflowType())
		}
		p := reflect.ValueOf(lc.Workflow()).Pointer()
		if !slices.ContainsFunc(slices.Collect(maps.Values(wfs)), func(wf any) bool { return reflect.ValueOf(wf).Pointer() == p }) {
			t.Errorf("the %s lifecycle's workflow is not registered by the worker", service)
		}
	}
}
