package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/reliability"
	"github.com/steward-oss/steward/workflows"
)

// scaleOutPlan is the scale-out figure's size: figures 1–3 of TestBench a side (starts and steps, lifecycles)
// at a concurrency.
type scaleOutPlan struct {
	Starts, Cases, Concurrency int
}

func scaleOutPlanFor(mode string) scaleOutPlan {
	p := scaleOutPlan{Starts: 250, Cases: 250, Concurrency: 16} // a round's; four rounds
	if mode == "smoke" {
		p = scaleOutPlan{Starts: 10, Cases: 10, Concurrency: 4}
	}
	if n, err := strconv.Atoi(os.Getenv(envCases)); err == nil && n > 0 {
		p.Cases = n
	}
	if n, err := strconv.Atoi(os.Getenv(envStarts)); err == nil && n > 0 {
		p.Starts = n
	}
	return p
}

// scaleOutRounds are the figure's rounds, by how many workers serve each.
var scaleOutRounds = []int{1, 2, 2, 1}

// scaleOutSide is one round of the figure: how many workers served the cases, and figures 1–3 with them.
type scaleOutSide struct {
	Workers int
	phase   // steward's lifecycles (figure 3)
	R       *report
	Others  float64 // cores other processes on the machine (PostgreSQL among them) kept busy during figure 3
}

// TestBenchScaleOut is `make bench`'s scale-out figure: TestBench's figures 1–3 (starts, step round trip and
// SOS lifecycles through the API, each against the raw SDK on the same server) against the cluster topology
// (the official temporal-server on PostgreSQL, as `make cluster` runs it; two `steward api`s the bots spread
// over), first with one `steward worker`, then with two, with the CPU each process spent per case. The raw side
// has as many SDK workers, in the benchmark's process. It runs with STEWARD_BENCH (full: make bench, smoke:
// make bench-smoke) on PostgreSQL (TEST_DATABASE_URL); in full it writes its section of docs/benchmarks.md
// (STEWARD_BENCH_REPORT), after TestBench has written the rest.
func TestBenchScaleOut(t *testing.T) {
	mode := os.Getenv(envMode)
	base := os.Getenv(dbtest.EnvURL)
	if mode == "" || base == "" {
		t.Skip("set " + envMode + " and " + dbtest.EnvURL + " (make bench) to measure steward's scale-out against the cluster")
	}
	if only := os.Getenv(envOnly); only != "" && !slices.Contains(strings.Split(only, ","), "scale") {
		t.Skip(envOnly + " does not name scale")
	}
	ctx := t.Context()
	began := time.Now()
	p := scaleOutPlanFor(mode)
	dir := t.TempDir()
	bin, err := reliability.BuildSteward(ctx, os.Getenv(envBin), dir)
	require.NoError(t, err)
	dsn, _ := dbtest.SchemaURL(ctx, t, base, "bench_scale_")
	store, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(ctx))
	partners := map[string]string{}
	for _, id := range []string{"bench-a", "bench-b"} {
		require.NoError(t, store.AddPartner(ctx, &db.Partner{ID: id, Name: id, Services: []string{workflows.ServiceSOS},
			Capacity: 1_000_000, SlackChannel: "#partner-" + id, Active: true, CreatedAt: time.Now()}))
		partners[id], _, err = store.IssueToken(ctx, db.RolePartner, id, "bot of "+id)
		require.NoError(t, err)
	}
	manager, _, err := store.IssueToken(ctx, db.RoleManager, "", "bench manager")
	require.NoError(t, err)
	slack := newSlackRecorder()
	t.Cleanup(slack.Close)
	secret := "bench-marketplace-secret-0123456789"
	c := reliability.StartCluster(t, reliability.ClusterOptions{Dir: dir, Steward: bin, BaseDSN: base, Workers: 2, APIs: 2, Env: []string{
		"DATABASE_URL=" + dsn, "SLACK_BOT_TOKEN=xoxb-bench", "STEWARD_SLACK_API_URL=" + slack.URL(), "STEWARD_SLACK_OPS_CHANNEL=#ops",
		"STEWARD_LOG_LEVEL=warn", "STEWARD_MARKETPLACE_SECRET=" + secret, "STEWARD_RATE_LIMIT=0", "STEWARD_ACCEPT_TIMEOUT=24h",
	}})
	t.Logf("cluster up in %s: %s", time.Since(began).Round(time.Second), c.HostPort)
	tc, err := reliability.DialTemporal(ctx, c.HostPort)
	require.NoError(t, err)
	defer tc.Close()
	httpc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	// on is the benchmark's stack for TestBench's figures on the cluster with its first n workers running,
	// and as many raw SDK workers; stop stops the raw ones.
	on := func(tag string, n int) (s *stack, stop func()) {
		s = &stack{t: t, dir: dir, dsn: dsn, pg: true, store: store, slack: slack, tc: tc, baseURLs: c.APIURLs, tag: tag,
			secret: []byte(secret), manager: manager, partners: partners, http: httpc}
		s.pids = func() map[string]int {
			procs := map[string]int{"temporal-server": c.Temporal.PID(), "bench": os.Getpid()}
			for i, w := range c.Workers[:n] {
				procs[fmt.Sprintf("worker-%d", i+1)] = w.PID()
			}
			for i, a := range c.APIs {
				procs[fmt.Sprintf("api-%d", i+1)] = a.PID()
			}
			return procs
		}
		var raws []sdkworker.Worker
		for range n {
			w := sdkworker.New(tc, rawTaskQueue, sdkworker.Options{})
			w.RegisterWorkflow(RawLifecycle)
			require.NoError(t, w.Start())
			raws = append(raws, w)
		}
		return s, func() {
			for _, w := range raws {
				w.Stop()
			}
		}
	}
	run := func(tag string, workers int) scaleOutSide {
		s, stop := on(tag, workers)
		defer stop()
		r := &report{Plan: plan{Mode: mode, Concurrency: p.Concurrency, Starts: p.Starts, Rounds: 4, Lifecycles: p.Cases}}
		apiCases, rawCases, _ := s.startOverhead(ctx, r)
		s.stepRoundTrip(ctx, r, apiCases, rawCases)
		o := s.othersFrom()
		s.lifecycle(ctx, r)
		require.Empty(t, r.Errors, "%d worker(s)", workers)
		side := scaleOutSide{Workers: workers, phase: r.LifeSteward, R: r, Others: o.cores()}
		t.Logf("%d worker(s): starts %.0f/s (raw %.0f/s), step p99 %s (raw %s), %d lifecycles in %s (raw %s), CPU %v", workers,
			r.StartAPI, r.StartRaw, r.StepAPI.P99, r.StepRaw.P99, p.Cases, side.Took.Round(time.Millisecond), r.LifeRaw.Took.Round(time.Millisecond), side.CPU)
		return side
	}

	// Warm up (connections, caches, the server's task queues) with both workers, then one worker, then two.
	warmup := max(p.Cases/5, 4)
	bots := &reliability.Client{BaseURLs: c.APIURLs, Secret: []byte(secret), Manager: manager, Partners: partners, HTTP: httpc}
	paid := time.Now().Add(-time.Minute)
	require.Empty(t, pool(warmup, p.Concurrency, func(i int) error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		_, err := bots.RunSOS(cctx, reliability.SOSOrder{OrderID: fmt.Sprintf("BENCH-SW-%05d", i), PaidAt: paid, AmountCents: 500_000})
		return err
	}), "warm-up")
	// workers runs worker-2 or stops it, so that n workers serve the next round.
	workers := func(n int) {
		if running := c.Workers[1].Running(); n == 1 && running {
			t0 := time.Now()
			c.Workers[1].Stop()
			t.Logf("worker-2 stopped in %s", time.Since(t0).Round(time.Millisecond))
			return
		} else if n == 1 || running {
			return
		}
		restarted := time.Now()
		require.NoError(t, c.Workers[1].Start())
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		require.NoError(t, reliability.WaitFor(rctx, func(ctx context.Context) error {
			// The new worker-2 polls: a poller with its identity (pid@host@), which the SDK gives every worker.
			res, err := tc.DescribeTaskQueue(ctx, workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
			if err != nil {
				return err
			}
			prefix := strconv.Itoa(c.Workers[1].PID()) + "@"
			for _, p := range res.GetPollers() {
				if strings.HasPrefix(p.GetIdentity(), prefix) {
					return nil
				}
			}
			return fmt.Errorf("worker-2 (pid %s) not polling yet", prefix)
		}))
		t.Logf("worker-2 polling %s after its start", time.Since(restarted).Round(time.Millisecond))
	}
	// The rounds go one worker, two, two, one, so that what changes over the run (the cases and rows piling up
	// on the server and in PostgreSQL) weighs on both alike.
	var sides []scaleOutSide
	for k, n := range scaleOutRounds {
		workers(n)
		sides = append(sides, run(fmt.Sprintf("S%d-", k+1), n))
	}

	text := scaleOutMarkdown(p, warmup, sides, time.Since(began))
	t.Log("\n" + text)
	if out := os.Getenv(envReport); out != "" && mode == "full" {
		require.NoError(t, writeSection(out, "scaleout", text))
	}
}

// cpuOf is the CPU time the processes have used so far.
func cpuOf(procs map[string]int) time.Duration {
	var total time.Duration
	for _, pid := range procs {
		if st, err := readProc(pid); err == nil {
			total += st.CPU
		}
	}
	return total
}

func scaleOutMarkdown(p scaleOutPlan, warmup int, sides []scaleOutSide, took time.Duration) string {
	var s strings.Builder
	perMin := func(x phase) float64 { return float64(x.Cases) / x.Took.Minutes() }
	msPerCase := func(x scaleOutSide, name string) float64 {
		return float64(x.CPU[name].Microseconds()) / 1000 / float64(x.Cases)
	}
	cores := func(x scaleOutSide, name string) float64 { return x.CPU[name].Seconds() / x.Took.Seconds() }
	total := func(x scaleOutSide) float64 {
		var c float64
		for name := range x.CPU {
			c += cores(x, name)
		}
		return c
	}
	// mean is f's mean over the rounds with n workers.
	mean := func(n int, f func(scaleOutSide) float64) float64 {
		var sum float64
		k := 0
		for _, x := range sides {
			if x.Workers == n {
				sum += f(x)
				k++
			}
		}
		return sum / float64(max(k, 1))
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(&s, "## Scale-out: one worker vs two against the cluster\n\n")
	fmt.Fprintf(&s, "Written by `make bench` (package `bench`, `TestBenchScaleOut`) from a run on %s; it took %s. The cluster topology\n",
		time.Now().UTC().Format("2006-01-02, 15:04 UTC"), took.Round(time.Second))
	fmt.Fprintf(&s, "of `make cluster`: the official temporal-server (deploy/temporal/config.yaml) on PostgreSQL for persistence and SQL\n")
	fmt.Fprintf(&s, "visibility, two `steward api`s the bots spread their calls over, the app database on the same PostgreSQL. Figures 1–3\n")
	fmt.Fprintf(&s, "as above, each steward against the raw SDK on the same server, in %d rounds after a warm-up of %d lifecycles: one\n", len(sides), warmup)
	fmt.Fprintf(&s, "`steward worker` (the second stopped), two, two, then one again, so that what piles up over the run weighs on both\n")
	fmt.Fprintf(&s, "alike. Each round: %d starts and %d steps a side, then %d SOS cases a side driven through every step, %d callers.\n", p.Starts, p.Starts, p.Cases, p.Concurrency)
	fmt.Fprintf(&s, "The raw side has as many SDK workers as steward has, in the benchmark's process. %d CPUs, %s. CPU per case is each\n", runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&s, "process's CPU time during steward's lifecycles over its cases (/proc/<pid>/stat), with the cores it kept busy on\n")
	fmt.Fprintf(&s, "average in brackets; \"bench\" is the bots. The last column is the mean of the two-worker rounds over the mean of\n")
	fmt.Fprintf(&s, "the one-worker rounds.\n\n")
	header, rule := "| round |", "|---|"
	for k, x := range sides {
		header += fmt.Sprintf(" %d: %d worker%s |", k+1, x.Workers, map[bool]string{true: "s", false: ""}[x.Workers > 1])
		rule += "---|"
	}
	fmt.Fprintf(&s, "%s two ÷ one |\n%s---|\n", header, rule)
	row := func(name string, cell func(scaleOutSide) string, f func(scaleOutSide) float64) {
		fmt.Fprintf(&s, "| %s |", name)
		for _, x := range sides {
			fmt.Fprintf(&s, " %s |", cell(x))
		}
		if f == nil {
			fmt.Fprintf(&s, " — |\n")
			return
		}
		fmt.Fprintf(&s, " %.2f |\n", mean(2, f)/mean(1, f))
	}
	startRatio := func(x scaleOutSide) float64 { return x.R.StartAPI / x.R.StartRaw }
	stepRatio := func(x scaleOutSide) float64 { return float64(x.R.StepAPI.P99) / float64(x.R.StepRaw.P99) }
	lifeRatio := func(x scaleOutSide) float64 { return perMin(x.R.LifeSteward) / perMin(x.R.LifeRaw) }
	row("1. starts/s, steward vs raw: ratio (target ≥0.9)", func(x scaleOutSide) string {
		return fmt.Sprintf("%.0f/s vs %.0f/s: **%.2f**", x.R.StartAPI, x.R.StartRaw, startRatio(x))
	}, func(x scaleOutSide) float64 { return x.R.StartAPI })
	row("2. step round trip p99, steward vs raw (target ≤1.2×)", func(x scaleOutSide) string {
		return fmt.Sprintf("%s vs %s: **%.2f×**", ms(x.R.StepAPI.P99), ms(x.R.StepRaw.P99), stepRatio(x))
	}, func(x scaleOutSide) float64 { return float64(x.R.StepAPI.P99) })
	row("3. lifecycles/min, steward vs raw (target ≥0.6)", func(x scaleOutSide) string {
		return fmt.Sprintf("%.0f/min vs %.0f/min: **%.2f**", perMin(x.R.LifeSteward), perMin(x.R.LifeRaw), lifeRatio(x))
	}, func(x scaleOutSide) float64 { return perMin(x.phase) })
	row("wall time for the steward lifecycles", func(x scaleOutSide) string { return x.Took.Round(100 * time.Millisecond).String() }, nil)
	for _, name := range []string{"temporal-server", "worker-1", "worker-2", "api-1", "api-2", "bench"} {
		row("CPU per case: "+name, func(x scaleOutSide) string {
			if _, ok := x.CPU[name]; !ok {
				return "—"
			}
			return fmt.Sprintf("%.1f ms (%.2f cores)", msPerCase(x, name), cores(x, name))
		}, nil)
	}
	row("cores busy during steward's lifecycles: the stack and the bots", func(x scaleOutSide) string { return fmt.Sprintf("%.2f", total(x)) }, nil)
	row("cores busy during figure 3 (both sides): other processes, PostgreSQL among them", func(x scaleOutSide) string { return fmt.Sprintf("%.2f", x.Others) }, nil)
	fmt.Fprintf(&s, "\nMeans by rounds, one worker → two: starts %.2f → %.2f of raw, step p99 %.2f× → %.2f× raw, lifecycles %.2f → %.2f of raw.\n",
		mean(1, startRatio), mean(2, startRatio), mean(1, stepRatio), mean(2, stepRatio), mean(1, lifeRatio), mean(2, lifeRatio))
	server := mean(2, func(x scaleOutSide) float64 { return cores(x, "temporal-server") })
	workers := mean(2, func(x scaleOutSide) float64 { return cores(x, "worker-1") + cores(x, "worker-2") })
	if server >= workers {
		fmt.Fprintf(&s, "On this %d-core machine the Temporal server is the limit, not the worker: with two workers it uses %.2f cores\n", runtime.NumCPU(), server)
	} else {
		fmt.Fprintf(&s, "On this %d-core machine the workers used more CPU than the Temporal server: with two workers it uses %.2f cores\n", runtime.NumCPU(), server)
	}
	fmt.Fprintf(&s, "(%.0f ms of CPU per case) while the workers together use %.2f, and the whole stack %.2f of %d. A second worker adds\n",
		mean(2, func(x scaleOutSide) float64 { return msPerCase(x, "temporal-server") }), workers, mean(2, total), runtime.NumCPU())
	fmt.Fprintf(&s, "capacity only where there are cores for it; here it shares the same ones with the server and PostgreSQL, so the\n")
	fmt.Fprintf(&s, "ratio above is bounded by the server's share of this machine, not by what a second machine would add. What scales\n")
	fmt.Fprintf(&s, "out is the worker's share: %.1f ms per case on one worker, %.1f + %.1f ms on two.\n",
		mean(1, func(x scaleOutSide) float64 { return msPerCase(x, "worker-1") }),
		mean(2, func(x scaleOutSide) float64 { return msPerCase(x, "worker-1") }), mean(2, func(x scaleOutSide) float64 { return msPerCase(x, "worker-2") }))
	return s.String()
}

// keptSection is the "<!-- name:begin -->" … "<!-- name:end -->" block of the file at path, with a blank line
// before it, or "" when it has none: TestBench rewrites docs/benchmarks.md and keeps TestBenchScaleOut's
// section, which a run without PostgreSQL does not measure.
func keptSection(path, name string) string {
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	doc := string(old)
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		return ""
	}
	return "\n" + doc[i:j+len(end)] + "\n"
}

// writeSection puts text between the "<!-- name:begin -->" and "<!-- name:end -->" markers of path, keeping the
// rest of the file; a file without them gets them appended.
func writeSection(path, name, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	block := begin + "\n" + text + end
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i >= 0 && j > i {
		doc = doc[:i] + block + doc[j+len(end):]
	} else {
		doc += "\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
