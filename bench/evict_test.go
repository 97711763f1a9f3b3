package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/steward-oss/steward/workflows"
)

// The worker's SDK metrics the replay figure reads (`steward worker` serves them with STEWARD_METRICS_ADDR;
// metrics/temporal.go names an SDK counter with Prometheus's _total suffix).
const (
	metricCacheMiss   = "temporal_sticky_cache_miss_total"                  // a task for a case no longer cached: replayed from its full history
	metricEviction    = "temporal_sticky_cache_total_forced_eviction_total" // an open case pushed out of the cache
	metricTaskFailed  = "temporal_workflow_task_execution_failed_total"     // a workflow task the worker failed
	metricCacheSize   = "temporal_sticky_cache_size"                        // cases cached now (a gauge)
	envWorkflowCache  = "STEWARD_WORKFLOW_CACHE"                            // the product's own env for --workflow-cache
	workflowCacheFlag = "workflow-cache"
)

// workflowCacheDefault is `steward worker`'s --workflow-cache default as its -h prints it (DefaultWorkflowCache
// in cmd/steward), read with STEWARD_WORKFLOW_CACHE unset so that the product's own default shows.
func workflowCacheDefault(ctx context.Context, bin string) (int, error) {
	cmd := exec.CommandContext(ctx, bin, "worker", "-h")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envWorkflowCache+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, _ := cmd.CombinedOutput() // -h exits 2
	m := regexp.MustCompile(`-` + workflowCacheFlag + ` int\s*\n[^\n]*\(default (\d+)\)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("`%s worker -h` shows no --%s default:\n%s", bin, workflowCacheFlag, out)
	}
	return strconv.Atoi(string(m[1]))
}

// promSample is one scrape of the worker's /metrics: each family's values, one per series.
type promSample map[string][]float64

// sum is the family's total over its series (a counter the SDK tags differently in places); 0 when the
// SDK never used it.
func (m promSample) sum(name string) float64 {
	var t float64
	for _, v := range m[name] {
		t += v
	}
	return t
}

// max is the family's largest series (a gauge).
func (m promSample) max(name string) float64 {
	var t float64
	for _, v := range m[name] {
		t = max(t, v)
	}
	return t
}

// workerMetrics scrapes the worker's /metrics (Prometheus text format).
func (s *stack) workerMetrics(ctx context.Context) (promSample, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metricsAddr+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("worker metrics: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("worker metrics: %d %v", res.StatusCode, err)
	}
	return parseProm(body), nil
}

// parseProm reads the samples of Prometheus's text format: `name{labels} value`, comments skipped.
func parseProm(b []byte) promSample {
	m := promSample{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if j := strings.LastIndexByte(rest, '}'); j >= 0 {
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			m[name] = append(m[name], v)
		}
	}
	return m
}

// replay is what became of open cases the worker had evicted from its workflow cache when their next step
// or timer arrived.
type replay struct {
	Skipped string // why no evicted case was stepped (the cache holds every case the footprint bought)
	// Cases is how many evicted cases were stepped (the oldest the footprint bought, offered and waiting
	// for a partner), StepFailed how many of those steps were answered other than 200.
	Cases, StepFailed int
	// Timers is how many of figure 5's cases had a timer fire.
	Timers int
	// TaskFailed is the WorkflowTaskFailed events in the histories of those cases (the stepped and figure
	// 5's), by cause; TaskTimedOut the WorkflowTaskTimedOut events, which are not failures of the replay.
	TaskFailed   map[string]int
	TaskTimedOut int
	// Metrics is whether every read of the worker's metrics succeeded: then StepMisses and StepEvictions
	// are its sticky-cache misses and forced evictions while the cases were stepped, TimerMisses its misses
	// during figure 5, CachedAtRead the cache's size before the steps, and FailedMetric the rise of its
	// workflow-task failure counter from its first read (before the steps) to its last (after figure 5).
	Metrics                                bool
	StepMisses, StepEvictions, TimerMisses float64
	CachedAtRead                           float64
	FailedMetric                           float64
	readFailed                             bool
	first                                  promSample
}

// replayMetrics scrapes the worker's metrics for the figure; an error is the run's.
func (s *stack) replayMetrics(ctx context.Context, r *report) (promSample, bool) {
	m, err := s.workerMetrics(ctx)
	rp := &r.Replay
	if err != nil {
		r.Errors = append(r.Errors, "replay: "+err.Error())
		rp.readFailed, rp.Metrics = true, false
		return nil, false
	}
	if rp.first == nil {
		rp.first = m
	}
	rp.Metrics = !rp.readFailed
	rp.FailedMetric = m.sum(metricTaskFailed) - rp.first.sum(metricTaskFailed)
	return m, true
}

// logLine is the figure's counts for the test log.
func (rp replay) logLine() string {
	return fmt.Sprintf("%d stepped (%d failed), %d timers; task failed %s, timed out %d; metrics %v: misses %.0f on steps, %.0f on timers, %.0f evictions, %.0f cached, failed counter +%.0f",
		rp.Cases, rp.StepFailed, rp.Timers, rp.causes(), rp.TaskTimedOut, rp.Metrics, rp.StepMisses, rp.TimerMisses, rp.StepEvictions, rp.CachedAtRead, rp.FailedMetric)
}

// failures is the figure's count: steps not answered 200, and workflow tasks failed (the events in the
// cases' histories or the worker's own counter over the same time, whichever is the larger).
func (rp replay) failures() int {
	events := 0
	for _, n := range rp.TaskFailed {
		events += n
	}
	return rp.StepFailed + max(events, int(rp.FailedMetric))
}

// checkReplay makes the replay figure's failures errors of the run, and in smoke (a worker cache of 5) an
// error too if the figure ran without replaying any case after eviction: the path is what smoke checks.
func (r *report) checkReplay(foot, late bool) {
	rp := r.Replay
	if n := rp.failures() - rp.StepFailed; n > 0 { // the failed steps are errors already
		r.Errors = append(r.Errors, fmt.Sprintf("replay: %d workflow tasks failed in the cases replayed after eviction (events: %s; the worker's counter: +%.0f)",
			n, rp.causes(), rp.FailedMetric))
	}
	if r.Plan.Mode != "smoke" {
		return
	}
	if foot && rp.Cases == 0 {
		r.Errors = append(r.Errors, "replay: no evicted case was stepped: "+rp.Skipped)
	}
	if late && rp.Metrics && rp.TimerMisses == 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("replay: figure 5's %d timers all found their cases in the worker's cache of %d: none was replayed", rp.Timers, r.Plan.Cache))
	}
}

func (rp replay) ran() bool { return rp.Cases > 0 || rp.Timers > 0 }

// causes lists the WorkflowTaskFailed events by cause, "none" when there were none.
func (rp replay) causes() string {
	if len(rp.TaskFailed) == 0 {
		return "none"
	}
	var parts []string
	for c, n := range rp.TaskFailed {
		parts = append(parts, fmt.Sprintf("%d %s", n, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// evictionReplay steps the oldest of the footprint's cases, which the worker's bounded cache has evicted
// by now (at least Cache newer cases were bought after them), with the partner's `accept` through the API,
// as figure 2 does, and counts the steps that failed, the sticky-cache misses they caused (each a replay from
// the full history) and the workflow tasks that failed in those cases' histories.
func (s *stack) evictionReplay(ctx context.Context, r *report, orders []order, partners []string) {
	p := r.Plan
	rp := &r.Replay
	n := min(p.Evict, len(orders)-p.Cache)
	if n <= 0 {
		rp.Skipped = fmt.Sprintf("the worker's cache (%d) holds all %d cases figure 4 bought", p.Cache, len(orders))
		s.t.Logf("eviction replay: %s", rp.Skipped)
		return
	}
	var ids, who []string
	for i := range n {
		if partners[i] != "" { // not offered: a footprint error already
			ids, who = append(ids, orders[i].caseID()), append(who, partners[i])
		}
	}
	m0, ok0 := s.replayMetrics(ctx, r)
	var mu sync.Mutex
	r.fail("eviction step", pool(len(ids), p.Concurrency, func(i int) error {
		err := s.step(ctx, ids[i], who[i], workflows.StepAccept, []byte(`{}`))
		if err != nil {
			mu.Lock()
			rp.StepFailed++
			mu.Unlock()
		}
		return err
	}))
	rp.Cases = len(ids)
	m1, ok1 := s.replayMetrics(ctx, r)
	if ok0 && ok1 {
		rp.CachedAtRead = m0.max(metricCacheSize)
		rp.StepMisses = m1.sum(metricCacheMiss) - m0.sum(metricCacheMiss)
		rp.StepEvictions = m1.sum(metricEviction) - m0.sum(metricEviction)
		if rp.StepMisses == 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("eviction replay: %d cases stepped without one sticky-cache miss: none was replayed from its history", rp.Cases))
		}
	}
	s.countTaskFailures(ctx, r, ids)
	s.t.Logf("eviction replay: %s", rp.logLine())
}

// timersReplayed counts, once figure 5's notifications have arrived, its cases whose timer fired and the
// workflow tasks failed in their histories, and the worker's sticky-cache misses since before (read as
// figure 5 began).
func (s *stack) timersReplayed(ctx context.Context, r *report, orders []order, before promSample) {
	rp := &r.Replay
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.caseID()
	}
	rp.Timers = s.countTaskFailures(ctx, r, ids)
	if after, ok := s.replayMetrics(ctx, r); ok && before != nil {
		rp.TimerMisses = after.sum(metricCacheMiss) - before.sum(metricCacheMiss)
	}
	s.t.Logf("timer replay: %s", rp.logLine())
}

// countTaskFailures reads the cases' histories into r.Replay's WorkflowTaskFailed (by cause) and
// WorkflowTaskTimedOut counts; it returns how many of the cases had a timer fire.
func (s *stack) countTaskFailures(ctx context.Context, r *report, ids []string) (timersFired int) {
	rp := &r.Replay
	if rp.TaskFailed == nil {
		rp.TaskFailed = map[string]int{}
	}
	var mu sync.Mutex
	r.fail("history", pool(len(ids), r.Plan.Concurrency, func(i int) error {
		failed := map[string]int{}
		timedOut, fired := 0, 0
		it := s.tc.GetWorkflowHistory(ctx, ids[i], "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return fmt.Errorf("%s: %w", ids[i], err)
			}
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				failed[strings.TrimPrefix(e.GetWorkflowTaskFailedEventAttributes().GetCause().String(), "WORKFLOW_TASK_FAILED_CAUSE_")]++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				timedOut++
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				fired++
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for c, n := range failed {
			rp.TaskFailed[c] += n
		}
		rp.TaskTimedOut += timedOut
		if fired > 0 {
			timersFired++
		}
		return nil
	}))
	return timersFired
}
