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

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/reliability"
	"github.com/steward-oss/steward/workflows"
)

// scaleOutPlan is the scale-out figure's size: cases per side (one worker, then two) at a concurrency.
type scaleOutPlan struct {
	Cases, Concurrency int
}

func scaleOutPlanFor(mode string) scaleOutPlan {
	p := scaleOutPlan{Cases: 500, Concurrency: 16}
	if mode == "smoke" {
		p = scaleOutPlan{Cases: 10, Concurrency: 4}
	}
	if n, err := strconv.Atoi(os.Getenv(envCases)); err == nil && n > 0 {
		p.Cases = n
	}
	return p
}

// scaleOutSide is one side of the figure: how many workers served the cases, and what it took.
type scaleOutSide struct {
	Workers int
	phase
	Others float64 // cores other processes on the machine kept busy meanwhile
}

// TestBenchScaleOut is `make bench`'s scale-out figure: SOS lifecycles through the API against the cluster
// topology (the official temporal-server on PostgreSQL, as `make cluster` runs it; two `steward api`s the bots
// spread over), first with one `steward worker`, then with two, with the CPU each process spent per case. It
// runs with STEWARD_BENCH (full: make bench, smoke: make bench-smoke) on PostgreSQL (TEST_DATABASE_URL); in
// full it writes its section of docs/benchmarks.md (STEWARD_BENCH_REPORT), after TestBench has written the rest.
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
	bots := &reliability.Client{BaseURLs: c.APIURLs, Secret: []byte(secret), Manager: manager, Partners: partners,
		HTTP: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}

	run := func(name string, workers, cases int) scaleOutSide {
		procs := map[string]int{"temporal-server": c.Temporal.PID(), "bench": os.Getpid()}
		for i, w := range c.Workers[:workers] {
			procs[fmt.Sprintf("worker-%d", i+1)] = w.PID()
		}
		for i, a := range c.APIs {
			procs[fmt.Sprintf("api-%d", i+1)] = a.PID()
		}
		busy0, ours0 := machineBusy(), cpuOf(procs)
		m := startMeter(procs)
		paid := time.Now().Add(-time.Minute)
		errs := pool(cases, p.Concurrency, func(i int) error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			_, err := bots.RunSOS(cctx, reliability.SOSOrder{OrderID: fmt.Sprintf("BENCH-S%s-%05d", name, i), PaidAt: paid, AmountCents: 500_000})
			return err
		})
		side := scaleOutSide{Workers: workers, phase: m.stop(cases, 0)}
		wall := side.Took.Seconds()
		side.Others = max(0, ((machineBusy()-busy0)-(cpuOf(procs)-ours0)).Seconds()/wall)
		require.Empty(t, errs, "%d worker(s): cases that did not finish", workers)
		t.Logf("%d worker(s): %d cases in %s, CPU %v", workers, cases, side.Took.Round(time.Millisecond), side.CPU)
		return side
	}

	// Warm up (connections, caches, the server's task queues) with both workers, then one worker, then two.
	warmup := max(p.Cases/5, 4)
	run("W", 2, warmup)
	t0 := time.Now()
	c.Workers[1].Stop()
	t.Logf("worker-2 stopped in %s", time.Since(t0).Round(time.Millisecond))
	one := run("1", 1, p.Cases)
	restarted := time.Now()
	require.NoError(t, c.Workers[1].Start())
	tc, err := reliability.DialTemporal(ctx, c.HostPort)
	require.NoError(t, err)
	defer tc.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
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
	cancel()
	t.Logf("worker-2 polling %s after its start", time.Since(restarted).Round(time.Millisecond))
	two := run("2", 2, p.Cases)

	text := scaleOutMarkdown(p, warmup, one, two, time.Since(began))
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

func scaleOutMarkdown(p scaleOutPlan, warmup int, one, two scaleOutSide, took time.Duration) string {
	var s strings.Builder
	perMin := func(x scaleOutSide) float64 { return float64(x.Cases) / x.Took.Minutes() }
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
	fmt.Fprintf(&s, "## Scale-out: one worker vs two against the cluster\n\n")
	fmt.Fprintf(&s, "Written by `make bench` (package `bench`, `TestBenchScaleOut`) from a run on %s; it took %s. The cluster topology\n",
		time.Now().UTC().Format("2006-01-02, 15:04 UTC"), took.Round(time.Second))
	fmt.Fprintf(&s, "of `make cluster`: the official temporal-server (deploy/temporal/config.yaml) on PostgreSQL for persistence and SQL\n")
	fmt.Fprintf(&s, "visibility, two `steward api`s the bots spread their calls over, the app database on the same PostgreSQL; %d SOS\n", p.Cases)
	fmt.Fprintf(&s, "cases a side driven through every step by %d bots, first with one `steward worker` (the second stopped), then with\n", p.Concurrency)
	fmt.Fprintf(&s, "both, after a warm-up of %d cases. %d CPUs, %s. CPU per case is each process's CPU time during the side over its\n", warmup, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&s, "cases (/proc/<pid>/stat), with the cores it kept busy on average in brackets; \"bench\" is the bots.\n\n")
	fmt.Fprintf(&s, "| | one worker | two workers | ratio |\n|---|---|---|---|\n")
	fmt.Fprintf(&s, "| lifecycles/min | %.0f/min | %.0f/min | %.2f |\n", perMin(one), perMin(two), perMin(two)/perMin(one))
	fmt.Fprintf(&s, "| wall time for %d cases | %s | %s | — |\n", p.Cases, one.Took.Round(100*time.Millisecond), two.Took.Round(100*time.Millisecond))
	names := []string{"temporal-server", "worker-1", "worker-2", "api-1", "api-2", "bench"}
	for _, name := range names {
		o, t := "—", "—"
		if _, ok := one.CPU[name]; ok {
			o = fmt.Sprintf("%.1f ms (%.2f cores)", msPerCase(one, name), cores(one, name))
		}
		if _, ok := two.CPU[name]; ok {
			t = fmt.Sprintf("%.1f ms (%.2f cores)", msPerCase(two, name), cores(two, name))
		}
		fmt.Fprintf(&s, "| CPU per case: %s | %s | %s | — |\n", name, o, t)
	}
	fmt.Fprintf(&s, "| cores busy: the stack and the bots / other processes (PostgreSQL among them) | %.2f / %.2f | %.2f / %.2f | — |\n\n",
		total(one), one.Others, total(two), two.Others)
	server := cores(two, "temporal-server")
	workers := cores(two, "worker-1") + cores(two, "worker-2")
	if server >= workers {
		fmt.Fprintf(&s, "On this %d-core machine the Temporal server is the limit, not the worker: with two workers it uses %.2f cores\n", runtime.NumCPU(), server)
	} else {
		fmt.Fprintf(&s, "On this %d-core machine the workers used more CPU than the Temporal server: with two workers it uses %.2f cores\n", runtime.NumCPU(), server)
	}
	fmt.Fprintf(&s, "(%.0f ms of CPU per case) while the workers together use %.2f, and the whole stack %.2f of %d. A second worker adds\n",
		msPerCase(two, "temporal-server"), workers, total(two), runtime.NumCPU())
	fmt.Fprintf(&s, "capacity only where there are cores for it; here it shares the same ones with the server and PostgreSQL, so the\n")
	fmt.Fprintf(&s, "ratio above is bounded by the server's share of this machine, not by what a second machine would add. What scales\n")
	fmt.Fprintf(&s, "out is the worker's share: %.1f ms per case on one worker, %.1f + %.1f ms on two.\n",
		msPerCase(one, "worker-1"), msPerCase(two, "worker-1"), msPerCase(two, "worker-2"))
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
