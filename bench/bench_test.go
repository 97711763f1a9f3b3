package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/reliability"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// Environment that selects and shapes the run.
const (
	// envMode is "full" (make bench) or "smoke" (make bench-smoke, CI); unset skips TestBench.
	envMode = "STEWARD_BENCH"
	// envReport names the Markdown file the figures are written to (make bench: docs/benchmarks.md); a run
	// with PostgreSQL as the app database writes them beside it, to benchmarks-postgresql.md.
	envReport = "STEWARD_BENCH_REPORT"
	// envCases, envOpen, envLate and envStarts override the lifecycle cases per side, the open cases of the
	// footprint, the clocks of the lateness figure and the starts (and steps) per side.
	envCases  = "STEWARD_BENCH_CASES"
	envOpen   = "STEWARD_BENCH_OPEN"
	envLate   = "STEWARD_BENCH_LATE"
	envStarts = "STEWARD_BENCH_STARTS"
	// envCache sets the worker's --workflow-cache (default: the flag's own default, as `steward worker -h`
	// prints it; smoke: 5, so that the cases are evicted and replayed even at its sizes).
	envCache = "STEWARD_BENCH_CACHE"
	// envFootCallers sets how many callers buy the footprint's cases.
	envFootCallers = "STEWARD_BENCH_FOOT_CALLERS"
	// envProfile names a directory for CPU profiles of the server, the API and the worker, taken during the
	// lifecycle.
	envProfile = "STEWARD_BENCH_PROFILE"
	// envOnly limits a run to some figures while working on them ("start,step,life,foot,late"); the
	// report is then not written.
	envOnly = "STEWARD_BENCH_ONLY"
)

// plan is the run's size. Every comparison runs both sides at Concurrency.
type plan struct {
	Mode        string
	Concurrency int
	Starts      int // purchases through the API, and as many raw starts
	Rounds      int // the start and step comparisons alternate sides in this many rounds
	Lifecycles  int // SOS cases driven through every step, and as many raw 8-update workflows
	Open        int // open cases waiting on clocks when the footprint is read
	Late        int // asset-window clocks falling due within LateSpread
	LateLead    time.Duration
	LateSpread  time.Duration

	// FootConcurrency callers buy the footprint's cases, each waiting until its case is offered before it
	// buys the next, so the stack works through them at its pace with no backlog piling up.
	FootConcurrency int
	// FootReserve is the time the footprint's buying leaves before the test's deadline for what comes after
	// it: the eviction steps, the lateness figure, the sla benchmarks and, in the same go test, the scale-out
	// figure.
	FootReserve time.Duration
	// Cache is the worker's --workflow-cache; 0 until newStack reads CacheDefault, the flag's default
	// (DefaultWorkflowCache in cmd/steward), from `steward worker -h`.
	Cache, CacheDefault int
	CacheBy             string // what chose Cache when it is not the default
	Evict               int    // at most this many of the oldest footprint cases, evicted, are stepped
}

func planFor(mode string) plan {
	// 24 callers buy the footprint's cases. Measured buying 1,500 (STEWARD_BENCH_ONLY=foot) on this 2-core
	// machine, with other load at 0.0-0.2 cores: 16 callers 32/s, 24 38/s, 32 32/s, 64 10/s. The stack is
	// CPU-bound at ~48 ms of CPU a case; more cases in flight only wait on each other (with 64, and 48 at
	// 0.6 cores of other load, 15/s, offers took up to a minute and first workflow tasks timed out). A run
	// of 3,000 open cases bought its 1,000 at 32/s (51 ms of CPU a case): 98,000 at 32-38/s take 43-51 min,
	// the whole run about an hour of the Makefile's 90 minutes (FootReserve guards the rest).
	p := plan{Mode: mode, Concurrency: 16, Starts: 1000, Rounds: 4, Lifecycles: 1000, Open: 100_000, FootConcurrency: 24,
		FootReserve: 20 * time.Minute, Evict: 1000, Late: 1000, LateLead: 90 * time.Second, LateSpread: time.Minute}
	if mode == "smoke" {
		p = plan{Mode: mode, Concurrency: 4, Starts: 20, Rounds: 2, Lifecycles: 20, Open: 60, FootConcurrency: 4,
			FootReserve: 2 * time.Minute, Cache: 5, CacheBy: "smoke's, so that even its few cases are evicted", Evict: 1000,
			Late: 20, LateLead: 20 * time.Second, LateSpread: 10 * time.Second}
	}
	if n, err := strconv.Atoi(os.Getenv(envCache)); err == nil && n > 0 {
		p.Cache, p.CacheBy = n, "set by `"+envCache+"`"
	}
	for env, v := range map[string]*int{envCases: &p.Lifecycles, envOpen: &p.Open, envLate: &p.Late, envStarts: &p.Starts,
		envFootCallers: &p.FootConcurrency} {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
			*v = n
		}
	}
	p.Open = max(p.Open, 2*p.Starts)
	return p
}

// TestBench measures steward against the raw SDK (see the package comment). It runs only when
// STEWARD_BENCH is set: `make bench` (full) and `make bench-smoke` (CI, correctness only).
func TestBench(t *testing.T) {
	mode := os.Getenv(envMode)
	if mode == "" {
		t.Skip("set " + envMode + "=smoke or full (make bench) to run the benchmarks against the embedded stack")
	}
	only := os.Getenv(envOnly)
	figures := []string{"start", "step", "life", "foot", "late"}
	if only != "" {
		for _, f := range strings.Split(only, ",") {
			if !slices.Contains(figures, f) {
				t.Fatalf("%s=%q: %q is not a figure; give some of %s, comma-separated", envOnly, only, f, strings.Join(figures, ","))
			}
		}
	}
	began := time.Now()
	p := planFor(mode)
	s := newStack(t, &p)
	r := &report{Plan: p, PG: s.pg, Began: began}
	ctx := t.Context()
	t.Logf("stack up in %s (database %s); plan %+v", time.Since(began).Round(time.Second), map[bool]string{true: "PostgreSQL", false: "SQLite"}[s.pg], p)

	run := func(figure string) bool { return only == "" || slices.Contains(strings.Split(only, ","), figure) }
	all := s.othersFrom()
	o := s.othersFrom()
	var apiCases, rawCases []order
	warm := 0 // figure 1's warm-up cases, open as its counted ones are
	if run("start") || run("step") {
		apiCases, rawCases, warm = s.startOverhead(ctx, r)
		r.Others.Start = o.cores()
	}
	if run("step") {
		o = s.othersFrom()
		s.stepRoundTrip(ctx, r, apiCases, rawCases)
		r.Others.Step = o.cores()
	}
	if run("life") {
		o = s.othersFrom()
		s.lifecycle(ctx, r)
		r.Others.Life = o.cores()
	}
	if run("foot") {
		o = s.othersFrom()
		orders, partners := s.footprint(ctx, r, len(apiCases)+len(rawCases)+warm)
		r.Others.Foot = o.cores()
		// The oldest of its cases have left the worker's cache by now: their next step replays them.
		s.evictionReplay(ctx, r, orders, partners)
	}
	if run("late") {
		o = s.othersFrom()
		s.lateness(ctx, r)
		r.Others.Late = o.cores()
	}
	r.Others.All = all.cores()
	r.checkReplay(run("foot"), run("late"))
	if mode == "full" && only == "" {
		r.SLABench, r.SLAErr = slaBenchmarks(ctx)
	}
	r.Retries = s.retries.Load()
	r.Took = time.Since(began)
	r.versions(ctx, s)

	text := r.markdown()
	t.Log("\n" + text)
	if out := os.Getenv(envReport); out != "" && mode == "full" && only == "" {
		// The progression (earlier runs' figures, kept by hand) and the scale-out figure (TestBenchScaleOut,
		// PostgreSQL only) stay as they are.
		if s.pg { // the SQLite figures stay where they are
			out = strings.TrimSuffix(out, ".md") + "-postgresql.md"
		}
		require.NoError(t, os.WriteFile(out, []byte(text+keptSection(out, "progression")+keptSection(out, "scaleout")), 0o644))
	}
	require.Empty(t, r.Errors, "errors during the run")
}

// slaBenchmarks runs the sla package's Go benchmarks and returns their result lines.
func slaBenchmarks(ctx context.Context) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "./sla/")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("sla benchmarks: %w\n%s", err, out)
	}
	var lines []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			lines = append(lines, strings.Join(strings.Fields(line), " "))
		}
	}
	return lines, nil
}

// pool runs fn(i) for i in [0, n) on c goroutines and returns the errors, at most 20 of them.
func pool(n, c int, fn func(i int) error) []error {
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(c, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if len(errs) < 20 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

func (r *report) fail(what string, errs []error) {
	for _, err := range errs {
		r.Errors = append(r.Errors, what+": "+err.Error())
	}
}

// startOptions are the options the API's purchase handler starts an SOS case with.
func startOptions(in workflows.CaseInput) client.StartWorkflowOptions {
	return workflows.StartOptions(in)
}

// startOverhead compares purchases through POST /v1/purchases with client.ExecuteWorkflow of the same
// SOS workflow, with the same input and options, in alternating rounds. It returns both sides' cases,
// which stay open for the step comparison, and how many warm-up cases it started (open as well).
func (s *stack) startOverhead(ctx context.Context, r *report) (apiCases, rawCases []order, warm int) {
	p := r.Plan
	paid := time.Now().Add(-time.Minute)
	for i := range p.Starts {
		apiCases = append(apiCases, order{ID: fmt.Sprintf("BENCH-%sSA-%05d", s.tag, i), PaidAt: paid})
		rawCases = append(rawCases, order{ID: fmt.Sprintf("BENCH-%sSR-%05d", s.tag, i), PaidAt: paid})
	}
	if dir := os.Getenv(envProfile); dir != "" {
		dir = filepath.Join(dir, "start")
		if err := os.MkdirAll(dir, 0o700); err == nil {
			defer s.profile(ctx, dir)()
		}
	}
	var apiDur, rawDur time.Duration
	// side starts batch through one side, 16 callers at a time, and adds its time to total when counted.
	side := func(name string, total *time.Duration, batch []order, counted bool, start func(order) error) {
		t0 := time.Now()
		r.fail(name, pool(len(batch), p.Concurrency, func(i int) error { return start(batch[i]) }))
		d := time.Since(t0)
		if counted {
			*total += d
		}
		s.t.Logf("start round: %s %d in %s (%.0f/s), counted %t", name, len(batch), d.Round(time.Millisecond), float64(len(batch))/d.Seconds(), counted)
	}
	apiSide := func(batch []order, counted bool) {
		side("purchase", &apiDur, batch, counted, func(o order) error { return s.purchase(ctx, o) })
	}
	rawSide := func(batch []order, counted bool) {
		side("raw start", &rawDur, batch, counted, func(o order) error {
			in := o.caseInput()
			_, err := s.tc.ExecuteWorkflow(ctx, startOptions(in), sos.WorkflowName, in)
			return err
		})
	}
	// The warm-up, not counted: on an idle stack the first round meets no backlog of first workflow tasks
	// and records, and read a third faster than every round after it (208/s against 122-151/s in one
	// run), a gain that went to whichever side began. Its cases stay open with the counted ones.
	var warmAPI, warmRaw []order
	for i := range p.startWarmup() {
		warmAPI = append(warmAPI, order{ID: fmt.Sprintf("BENCH-%sSWA-%05d", s.tag, i), PaidAt: paid})
		warmRaw = append(warmRaw, order{ID: fmt.Sprintf("BENCH-%sSWR-%05d", s.tag, i), PaidAt: paid})
	}
	apiSide(warmAPI, false)
	rawSide(warmRaw, false)
	for round := range p.Rounds {
		lo, hi := round*p.Starts/p.Rounds, (round+1)*p.Starts/p.Rounds
		if round%2 == 0 {
			rawSide(rawCases[lo:hi], true)
			apiSide(apiCases[lo:hi], true)
		} else {
			apiSide(apiCases[lo:hi], true)
			rawSide(rawCases[lo:hi], true)
		}
	}
	r.StartRetries = s.retries.Load()
	r.StartAPI = float64(p.Starts) / apiDur.Seconds()
	r.StartRaw = float64(p.Starts) / rawDur.Seconds()
	s.t.Logf("start: API %.0f/s, raw %.0f/s", r.StartAPI, r.StartRaw)
	return apiCases, rawCases, len(warmAPI) + len(warmRaw)
}

// stepRoundTrip compares POST /v1/cases/{id}/steps/accept with UpdateWorkflow of the same step update on
// the same kind of case (an SOS case offered to a partner), in alternating rounds.
func (s *stack) stepRoundTrip(ctx context.Context, r *report, apiCases, rawCases []order) {
	p := r.Plan
	all := append(slices.Clone(apiCases), rawCases...)
	partners := make([]string, len(all))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	r.fail("offer", pool(len(all), p.Concurrency, func(i int) (err error) {
		partners[i], err = s.partnerOf(wctx, all[i].caseID())
		return err
	}))
	cancel()
	var mu sync.Mutex
	var apiLat, rawLat []time.Duration
	measure := func(lat *[]time.Duration, fn func() error) error {
		start := time.Now()
		err := fn()
		d := time.Since(start)
		mu.Lock()
		*lat = append(*lat, d)
		mu.Unlock()
		return err
	}
	apiSide := func(lo, hi int) {
		r.fail("api step", pool(hi-lo, p.Concurrency, func(i int) error {
			return measure(&apiLat, func() error {
				return s.step(ctx, apiCases[lo+i].caseID(), partners[lo+i], workflows.StepAccept, []byte(`{}`))
			})
		}))
	}
	rawSide := func(lo, hi int) {
		r.fail("raw update", pool(hi-lo, p.Concurrency, func(i int) error {
			partner := partners[p.Starts+lo+i]
			return measure(&rawLat, func() error {
				h, err := s.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
					WorkflowID: rawCases[lo+i].caseID(), UpdateName: workflows.StepAccept, WaitForStage: client.WorkflowUpdateStageCompleted,
					Args: []any{workflows.StepInput{Step: workflows.StepAccept, Actor: workflows.ActorPartner, PartnerID: partner,
						ActorName: "bot of " + partner, At: time.Now().UTC(), Payload: json.RawMessage(`{}`)}},
				})
				if err != nil {
					return err
				}
				var v workflows.CaseView
				return h.Get(ctx, &v)
			})
		}))
	}
	for round := range p.Rounds {
		lo, hi := round*p.Starts/p.Rounds, (round+1)*p.Starts/p.Rounds
		if round%2 == 0 {
			rawSide(lo, hi)
			apiSide(lo, hi)
		} else {
			apiSide(lo, hi)
			rawSide(lo, hi)
		}
	}
	r.StepAPI, r.StepRaw = latencies(apiLat), latencies(rawLat)
	s.t.Logf("step: API %+v, raw %+v", r.StepAPI, r.StepRaw)
}

// lifecycle drives SOS cases through every step with the partner bots, then raw 8-update workflows, at
// the same concurrency, reading each process's CPU time and memory.
func (s *stack) lifecycle(ctx context.Context, r *report) {
	p := r.Plan
	bots := s.bots()
	procs := s.pids()

	var stopProfile func()
	if dir := os.Getenv(envProfile); dir != "" {
		stopProfile = s.profile(ctx, dir)
	}
	m := startMeter(procs)
	paid := time.Now().Add(-time.Minute)
	var ids []string
	for i := range p.Lifecycles {
		ids = append(ids, fmt.Sprintf("BENCH-%sL-%05d", s.tag, i))
	}
	r.fail("lifecycle", pool(p.Lifecycles, p.Concurrency, func(i int) error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		_, err := bots.RunSOS(cctx, reliability.SOSOrder{OrderID: ids[i], PaidAt: paid, AmountCents: 500_000})
		return err
	}))
	r.LifeSteward = m.stop(p.Lifecycles, int(bots.Steps.Load()))
	if stopProfile != nil {
		stopProfile()
	}
	s.t.Logf("lifecycle steward: %+v", r.LifeSteward)
	// Every case ends closed in the projection the API lists.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	r.fail("closed", pool(len(ids), p.Concurrency, func(i int) error {
		id := workflows.CaseWorkflowID(workflows.ServiceSOS, ids[i])
		return reliability.WaitFor(cctx, func(ctx context.Context) error {
			row, err := s.store.GetCase(ctx, id)
			if err != nil {
				return err
			}
			if row.Status != workflows.StatusClosed || row.Stage != workflows.StageClosed {
				return fmt.Errorf("%s: %s/%s", id, row.Status, row.Stage)
			}
			return nil
		})
	}))
	cancel()
	var err error
	if r.LifeSteward.History, err = s.historyShape(ctx, workflows.CaseWorkflowID(workflows.ServiceSOS, ids[0])); err != nil {
		r.fail("history", []error{err})
	}

	m = startMeter(procs)
	var steps atomic.Int64
	r.fail("raw lifecycle", pool(p.Lifecycles, p.Concurrency, func(i int) error {
		run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-raw-%s%05d", s.tag, i), TaskQueue: rawTaskQueue}, RawLifecycle, rawSteps)
		if err != nil {
			return err
		}
		for k := 1; k <= rawSteps; k++ {
			h, err := s.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(),
				UpdateName: rawUpdate, Args: []any{k}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err != nil {
				return err
			}
			var got int
			if err := h.Get(ctx, &got); err != nil {
				return err
			}
			steps.Add(1)
		}
		var done int
		if err := run.Get(ctx, &done); err != nil || done != rawSteps {
			return fmt.Errorf("raw lifecycle %s: %d steps, %v", run.GetID(), done, err)
		}
		return nil
	}))
	r.LifeRaw = m.stop(p.Lifecycles, int(steps.Load()))
	if r.LifeRaw.History, err = s.historyShape(ctx, fmt.Sprintf("bench-raw-%s%05d", s.tag, 0)); err != nil {
		r.fail("history", []error{err})
	}
	s.t.Logf("lifecycle raw: %+v", r.LifeRaw)
}

// rawSteps is the raw lifecycle's number of updates: SOS's eight partner steps.
const rawSteps = 8

// footprint opens cases through the API until open of them wait on their clocks (the ones already open
// count), lets the stack settle, and reads the worker's memory and both databases' sizes. It returns the
// cases it bought, oldest first, and the partner each was offered to.
//
// FootConcurrency callers buy them, each buying its next case once its last one was offered. Should the
// buying run so long that the test's deadline comes within FootReserve, it stops there, so that the figures
// after it still run and the report is still written, with an error saying how many were bought.
func (s *stack) footprint(ctx context.Context, r *report, alreadyOpen int) (orders []order, partners []string) {
	p := r.Plan
	f := &r.Foot
	want := p.Open - alreadyOpen
	f.Callers = p.FootConcurrency
	var err error
	app0, tmp0 := s.appDBSize(ctx), dirSize(filepath.Join(s.dir, "temporal"))
	paid := time.Now().Add(-time.Minute)
	orders = make([]order, want)
	for i := range orders {
		orders[i] = order{ID: fmt.Sprintf("BENCH-F-%06d", i), PaidAt: paid}
	}
	partners = make([]string, len(orders))
	buyUntil := time.Time{}
	if d, ok := s.t.Deadline(); ok {
		buyUntil = d.Add(-p.FootReserve)
	}
	m := startMeter(map[string]int{"temporal": s.temporal.PID(), "worker": s.worker.PID(), "api": s.api.PID(), "bench": os.Getpid()})
	start := time.Now()
	var (
		mu               sync.Mutex
		buyLat, offerLat []time.Duration
		tried            = make([]bool, len(orders))
	)
	r.fail("footprint purchase", pool(len(orders), p.FootConcurrency, func(i int) error {
		if !buyUntil.IsZero() && time.Now().After(buyUntil) {
			return nil // out of time: this one and the rest are not bought
		}
		tried[i] = true
		t0 := time.Now()
		if err := s.purchase(ctx, orders[i]); err != nil {
			return err
		}
		t1 := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		var err error
		partners[i], err = s.partnerOf(wctx, orders[i].caseID())
		mu.Lock()
		buyLat, offerLat = append(buyLat, t1.Sub(t0)), append(offerLat, time.Since(t1))
		mu.Unlock()
		return err
	}))
	f.Settled = time.Since(start)
	var bought []order
	var to []string
	for i, ok := range tried {
		if ok {
			bought, to = append(bought, orders[i]), append(to, partners[i])
		}
	}
	if n := len(bought); n < want {
		orders, partners = bought, to
		r.Errors = append(r.Errors, fmt.Sprintf("footprint: %d of the %d cases to add were bought (%.0f/s) when the test's deadline came within %s; "+
			"give go test a longer -timeout or set %s lower", n, want, float64(n)/f.Settled.Seconds(), p.FootReserve, envOpen))
	}
	f.Added = len(orders)
	f.Open = alreadyOpen + f.Added
	f.Buy = m.stop(max(1, f.Added), 0)
	s.t.Logf("footprint: %d cases bought and offered in %s (%.0f/s) by %d callers: purchases answered in %+v, then offered in %+v",
		f.Added, f.Settled.Round(time.Second), f.rate(), f.Callers, latencies(buyLat), latencies(offerLat))
	time.Sleep(5 * time.Second) // notifications of the last offers
	// The footprint measures cases waiting on their clocks; a warning or breach among them means the run
	// met a breach wave instead (runDaysOff keeps the response clocks past the run).
	footCase := workflows.CaseWorkflowID(workflows.ServiceSOS, "BENCH-F-")
	if n := s.slack.count(func(k string) bool {
		return strings.HasPrefix(k, footCase) && (strings.Contains(k, "/"+workflows.KeyWarn) || strings.Contains(k, "/"+workflows.KeyBreach))
	}); n > 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("footprint: %d SLA warnings or breaches of its cases arrived while they were bought; "+
			"the figure measured a breach wave, not cases waiting on their clocks", n))
	}
	f.AppDB, f.TemporalDB = s.appDBSize(ctx), dirSize(filepath.Join(s.dir, "temporal"))
	f.AppDelta, f.TemporalDelta = f.AppDB-app0, f.TemporalDB-tmp0
	f.Worker, err = readProc(s.worker.PID())
	if err != nil {
		r.Errors = append(r.Errors, "worker memory: "+err.Error())
	}
	f.Temporal, _ = readProc(s.temporal.PID())
	f.API, _ = readProc(s.api.PID())
	if dir := os.Getenv(envProfile); dir != "" {
		s.saveProfile(ctx, "worker", "heap", filepath.Join(dir, "worker.heap.pprof"))
	}
	s.t.Logf("footprint: %+v (%.0f cases/s bought and offered)", *f, f.rate())
	return orders, partners
}

// lateness opens cases whose asset-list window (5 natural days from payment, a 7x24 clock) falls due
// within one LateSpread, starting LateLead from now, and measures from each due instant to the arrival of
// the case's expiry notification in Slack.
func (s *stack) lateness(ctx context.Context, r *report) {
	p := r.Plan
	l := &r.Late
	l.N = p.Late
	first := time.Now().Add(p.LateLead).Truncate(time.Second)
	orders := make([]order, p.Late)
	due := make([]time.Time, p.Late)
	for i := range orders {
		due[i] = first.Add(time.Duration(i) * p.LateSpread / time.Duration(p.Late))
		orders[i] = order{ID: fmt.Sprintf("BENCH-T-%05d", i), PaidAt: due[i].Add(-sla.AssetWindow)}
	}
	before, _ := s.replayMetrics(ctx, r)
	r.fail("lateness purchase", pool(len(orders), p.Concurrency, func(i int) error { return s.purchase(ctx, orders[i]) }))
	l.OpenedBefore = time.Until(first)
	if l.OpenedBefore < 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("lateness: the cases were still being opened %s after the first clock was due; raise LateLead", -l.OpenedBefore))
	}
	deadline := first.Add(p.LateSpread + 5*time.Minute)
	var lat []time.Duration
	counted := false
	for {
		if !counted && time.Until(first) < 3*time.Second { // just before, not to load the server while the clocks fire
			l.Open, counted = s.openCases(ctx), true
		}
		lat = lat[:0]
		for i, o := range orders {
			if at, ok := s.slack.arrival(o.caseID() + "/expired"); ok {
				lat = append(lat, at.Sub(due[i]))
			}
		}
		if len(lat) == len(orders) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	l.Arrived = len(lat)
	l.Lat = latencies(lat)
	if l.Arrived != l.N {
		r.Errors = append(r.Errors, fmt.Sprintf("lateness: %d of %d expiry notifications arrived", l.Arrived, l.N))
	}
	for _, d := range lat {
		if d < 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("lateness: a notification arrived %s before its clock was due", -d))
			break
		}
	}
	s.t.Logf("lateness: %+v", *l)
	// Their timers were the next thing to arrive for them; cases the cache no longer held replayed.
	s.timersReplayed(ctx, r, orders, before)
}

// startWarmup is how many starts a side figure 1 makes before the rounds it counts: half a round's.
func (p plan) startWarmup() int {
	if p.Rounds < 1 || p.Starts < 1 {
		return 0 // no rounds planned: figure 1 is not run
	}
	return max(1, p.Starts/p.Rounds/2)
}

// openCases is how many SOS cases are open (running workflows, by the server's visibility); -1 when it
// could not be read.
func (s *stack) openCases(ctx context.Context) int64 {
	res, err := s.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", sos.WorkflowName)})
	if err != nil {
		s.t.Logf("open cases: %v", err)
		return -1
	}
	return res.GetCount()
}

// profile takes 30-second CPU profiles of the server, the API and the worker into dir, in the background.
func (s *stack) profile(ctx context.Context, dir string) (wait func()) {
	var wg sync.WaitGroup
	for name := range s.pprof {
		wg.Go(func() { s.saveProfile(ctx, name, "profile?seconds=30", filepath.Join(dir, name+".cpu.pprof")) })
	}
	return wg.Wait
}

// saveProfile writes process name's /debug/pprof/<which> to path; a failure is logged, not fatal.
func (s *stack) saveProfile(ctx context.Context, name, which, path string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.pprof[name]+"/debug/pprof/"+which, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Logf("profile %s: %v", name, err)
		return
	}
	defer res.Body.Close()
	out, err := os.Create(path)
	if err != nil {
		s.t.Logf("profile %s: %v", name, err)
		return
	}
	defer out.Close()
	_, _ = out.ReadFrom(res.Body)
}

// latency is a distribution's summary.
type latency struct {
	N             int
	P50, P99, Max time.Duration
}

func latencies(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[max(0, int(math.Ceil(p*float64(len(d))))-1)] }
	return latency{N: len(d), P50: q(0.50), P99: q(0.99), Max: d[len(d)-1]}
}

// meter samples the processes' memory while a phase runs and takes their CPU time at its start and end.
type meter struct {
	procs map[string]int
	start time.Time
	cpu0  map[string]time.Duration
	mu    sync.Mutex
	peak  map[string]int64
	done  chan struct{}
	wg    sync.WaitGroup
}

// phase is what one side of the lifecycle comparison did and cost.
type phase struct {
	Cases, Steps int
	Took         time.Duration
	CPU          map[string]time.Duration // CPU time per process during the phase
	PeakRSS      map[string]int64         // largest resident set sampled during the phase
	// History is the event history of one of the phase's workflows, counted by kind: what a case asks of
	// the server.
	History map[string]int
}

// historyShape counts a closed workflow's history events by kind ("WorkflowTaskCompleted", …).
func (s *stack) historyShape(ctx context.Context, workflowID string) (map[string]int, error) {
	shape := map[string]int{}
	it := s.tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		shape[e.GetEventType().String()]++
	}
	return shape, nil
}

func startMeter(procs map[string]int) *meter {
	m := &meter{procs: procs, start: time.Now(), cpu0: map[string]time.Duration{}, peak: map[string]int64{}, done: make(chan struct{})}
	m.sample(true)
	m.wg.Go(func() {
		for {
			select {
			case <-m.done:
				return
			case <-time.After(500 * time.Millisecond):
				m.sample(false)
			}
		}
	})
	return m
}

func (m *meter) sample(first bool) map[string]time.Duration {
	cpu := map[string]time.Duration{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, pid := range m.procs {
		st, err := readProc(pid)
		if err != nil {
			continue
		}
		cpu[name] = st.CPU
		if first {
			m.cpu0[name] = st.CPU
		}
		m.peak[name] = max(m.peak[name], st.RSS)
	}
	return cpu
}

func (m *meter) stop(cases, steps int) phase {
	took := time.Since(m.start)
	close(m.done)
	m.wg.Wait()
	cpu := m.sample(false)
	ph := phase{Cases: cases, Steps: steps, Took: took, CPU: map[string]time.Duration{}, PeakRSS: m.peak}
	for name, c := range cpu {
		ph.CPU[name] = c - m.cpu0[name]
	}
	return ph
}

// dirSize is the total size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// appDBSize is the app database's size: the SQLite files (database, WAL, shared memory), or the total
// size of the run's PostgreSQL schema (tables, indexes, TOAST).
func (s *stack) appDBSize(ctx context.Context) int64 {
	if !s.pg {
		var n int64
		base := filepath.Join(s.dir, "steward.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if info, err := os.Stat(base + suffix); err == nil {
				n += info.Size()
			}
		}
		return n
	}
	var n int64
	err := s.store.DB.NewRaw(`SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c
		JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = ? AND c.relkind = 'r'`, s.schema).Scan(ctx, &n)
	if err != nil {
		s.t.Logf("app database size: %v", err)
	}
	return n
}
