package worker

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// fakeVisibility answers a list query with pages of the given workflow IDs and records the signals.
type fakeVisibility struct {
	mu       sync.Mutex
	pages    [][]string
	unavail  int // the first calls fail as unavailable
	queries  []string
	signals  map[string]workflows.CalendarUpdate
	notFound map[string]bool
}

func (f *fakeVisibility) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, req.GetQuery())
	if f.unavail > 0 {
		f.unavail--
		return nil, serviceerror.NewUnavailable("visibility not ready")
	}
	page := 0
	if len(req.GetNextPageToken()) > 0 {
		page = int(req.GetNextPageToken()[0])
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, id := range f.pages[page] {
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id}})
	}
	if page+1 < len(f.pages) {
		resp.NextPageToken = []byte{byte(page + 1)}
	}
	return resp, nil
}

func (f *fakeVisibility) SignalWorkflow(_ context.Context, id, _, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != workflows.SignalCalendarUpdated {
		return serviceerror.NewInvalidArgument("signal " + name)
	}
	if f.notFound[id] {
		return serviceerror.NewNotFound("workflow not found")
	}
	if f.signals == nil {
		f.signals = map[string]workflows.CalendarUpdate{}
	}
	f.signals[id] = arg.(workflows.CalendarUpdate)
	return nil
}

// calendarsWith are the built-in calendars plus a made-up schedule for year.
func calendarsWith(t *testing.T, year string) *sla.Calendars {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cn-"+year+".yaml")
	data := "region: cn\nyear: " + year + "\noff:\n  - {name: 元旦, from: " + year + "-01-01, to: " + year + "-01-03}\nwork: []\n"
	require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
	cs, err := sla.NewCalendars(sla.Config{HolidayFiles: []string{p}})
	require.NoError(t, err)
	return cs
}

// TestReplannerSignals: a worker with 2027's holiday data signals every running case awaiting it, over
// every page of the query, once each; a case that ended meanwhile is skipped.
func TestReplannerSignals(t *testing.T) {
	fv := &fakeVisibility{pages: [][]string{{"butler:A", "sos:B"}, {"sos:C", "sos:B"}}, notFound: map[string]bool{"sos:C": true}, unavail: 1}
	cs := calendarsWith(t, "2027")
	r := &Replanner{Temporal: fv, Calendars: cs, Now: func() time.Time { return time.Date(2027, 1, 2, 9, 0, 0, 0, sla.China) }, Retry: time.Millisecond}
	assert.Equal(t, []int{2026, 2027}, r.Years(), "2028 has no data yet")
	r.Run(context.Background())
	fv.mu.Lock()
	defer fv.mu.Unlock()
	assert.Equal(t, "SlaReplan IN ('awaiting:2026', 'awaiting:2027') AND ExecutionStatus = 'Running'", fv.queries[0])
	assert.Len(t, fv.queries, 3, "one refused, then two pages")
	require.Len(t, fv.signals, 2)
	assert.Contains(t, fv.signals, "butler:A")
	assert.Contains(t, fv.signals, "sos:B")
	assert.Contains(t, fv.signals["sos:B"].Versions, cs.HolidayVersions()[len(cs.HolidayVersions())-1])
}

// TestReplannerWithoutData: with no year of data around now there is no one to tell, and no query.
func TestReplannerWithoutData(t *testing.T) {
	fv := &fakeVisibility{pages: [][]string{{"sos:A"}}}
	cs, err := sla.NewCalendars(sla.Config{})
	require.NoError(t, err)
	r := &Replanner{Temporal: fv, Calendars: cs, Now: func() time.Time { return time.Date(2031, 6, 1, 0, 0, 0, 0, sla.China) }}
	n, err := r.Signal(context.Background())
	assert.NoError(t, err)
	assert.Zero(t, n)
	assert.Empty(t, fv.queries)
}
