package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// report is the figures of one run.
type report struct {
	Plan  plan
	PG    bool
	Began time.Time
	Took  time.Duration

	StartAPI, StartRaw   float64 // starts a second
	StartRetries         int64   // purchase callbacks sent again during figure 1
	Retries              int64   // purchase callbacks sent again in the whole run
	StepAPI, StepRaw     latency
	LifeSteward, LifeRaw phase
	Foot                 footprint
	Replay               replay // figure 4's evicted cases stepped and figure 5's timers, replayed
	Late                 lateness
	Errors               []string
	SLABench             []string // `go test -bench` result lines of package sla
	SLAErr               error
	// Others is how many cores other processes on the machine kept busy on average, per figure and overall.
	Others struct{ Start, Step, Life, Foot, Late, All float64 }

	GoVersion, Server, SDK, DBDriver, DBVersion, CPU, Memory string
}

// footprint is the cost of the open cases.
type footprint struct {
	Open, Added             int
	Callers                 int           // buying the added cases
	Settled                 time.Duration // from the first added purchase to the last added case offered
	Buy                     phase         // the processes' CPU while the added cases were bought and offered
	AppDB, TemporalDB       int64
	AppDelta, TemporalDelta int64
	Worker, Temporal, API   procStat
}

// rate is how many cases a second the added ones were bought and offered at.
func (f footprint) rate() float64 { return float64(f.Added) / max(f.Settled.Seconds(), 1e-9) }

// lateness is how late the expiry notifications arrived.
type lateness struct {
	N, Arrived   int
	OpenedBefore time.Duration // how long before the first clock was due every case was open
	Open         int64         // SOS cases open (running workflows) just before the first clock fell due, -1 when not read
	Lat          latency
}

// versions fills in what the run ran on.
func (r *report) versions(ctx context.Context, s *stack) {
	r.GoVersion = runtime.Version()
	mods := map[string]string{}
	if b, err := os.ReadFile("../go.mod"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				mods[f[0]] = f[1]
			}
		}
	}
	r.Server, r.SDK = mods["go.temporal.io/server"], mods["go.temporal.io/sdk"]
	if s.pg {
		r.DBDriver = "pgx " + mods["github.com/jackc/pgx/v5"]
		_ = s.store.DB.NewRaw("SELECT current_setting('server_version')").Scan(ctx, &r.DBVersion)
		r.DBVersion = "PostgreSQL " + r.DBVersion
	} else {
		r.DBDriver = "modernc.org/sqlite " + mods["modernc.org/sqlite"]
		_ = s.store.DB.NewRaw("SELECT sqlite_version()").Scan(ctx, &r.DBVersion)
		r.DBVersion = "SQLite " + r.DBVersion + " (WAL)"
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				r.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			r.Memory = strings.Join(strings.Fields(line)[1:], " ")
		}
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func (ph phase) perMin() float64 { return float64(ph.Cases) / ph.Took.Minutes() }
func (ph phase) stepsPerSec() float64 {
	return float64(ph.Steps) / ph.Took.Seconds()
}

// cpuLine is a phase's CPU time per process, as cores busy on average and CPU milliseconds per case.
func (ph phase) cpuLine(names ...string) string {
	var parts []string
	var total time.Duration
	for _, n := range names {
		c := ph.CPU[n]
		total += c
		parts = append(parts, fmt.Sprintf("%s %.2f cores (%.0f ms/case)", n, c.Seconds()/ph.Took.Seconds(), float64(c.Milliseconds())/float64(ph.Cases)))
	}
	return fmt.Sprintf("%s; total %.2f of %d cores", strings.Join(parts, ", "), total.Seconds()/ph.Took.Seconds(), runtime.NumCPU())
}

func (ph phase) rssLine(names ...string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, n+" "+mib(ph.PeakRSS[n]))
	}
	return strings.Join(parts, ", ")
}

func (r *report) markdown() string {
	p := r.Plan
	db := "SQLite"
	if r.PG {
		db = "PostgreSQL"
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Benchmarks")
	w("")
	w("Written by `make bench` (package `bench`, `TestBench`) from a run on %s, %s UTC; the run took %s.",
		r.Began.UTC().Format("2006-01-02"), r.Began.UTC().Format("15:04"), r.Took.Round(time.Second))
	w("steward's side is the real stack: `steward temporal` (embedded server, SQLite), `steward worker` and `steward api`")
	w("as separate processes, the app database in %s, Slack a local peer. The raw SDK side is a client and a worker in", db)
	w("the benchmark's own process, against the same server, at the same concurrency (%d callers), in the same run.", p.Concurrency)
	w("Other processes on this %d-core machine kept %.2f cores busy on average during the run (figures 1–5: %.2f, %.2f,",
		runtime.NumCPU(), r.Others.All, r.Others.Start, r.Others.Step)
	w("%.2f, %.2f, %.2f), measured from /proc/stat less the stack's and the benchmark's own CPU time; where that is", r.Others.Life, r.Others.Foot, r.Others.Late)
	w("well above zero the figures are disturbed, both sides alike for the comparisons.")
	w("")
	w("| figure | steward | raw SDK | ratio | target | met? |")
	w("|---|---|---|---|---|---|")
	// A figure whose phase did not run (a partial or failed run) says so, rather than 0 or a ratio of zeros.
	// cells are steward, raw SDK, ratio, target and met?.
	const notRun = "not run"
	row := func(ran bool, name string, cells ...string) {
		if !ran {
			for i := range cells {
				if cells[i] != "—" && i != 3 { // the target (column 3) stands
					cells[i] = notRun
				}
			}
		}
		w("| %s | %s |", name, strings.Join(cells, " | "))
	}
	startsRan := r.StartAPI > 0 && r.StartRaw > 0
	startRatio := r.StartAPI / max(r.StartRaw, 1e-9)
	row(startsRan, "1. starts/s (`POST /v1/purchases` vs `ExecuteWorkflow`)", fmt.Sprintf("%.0f/s", r.StartAPI), fmt.Sprintf("%.0f/s", r.StartRaw),
		fmt.Sprintf("%.2f", startRatio), "≥0.9", met(startRatio >= 0.9))
	stepsRan := r.StepAPI.N > 0 && r.StepRaw.N > 0
	p50Ratio := float64(r.StepAPI.P50) / float64(max(r.StepRaw.P50, 1))
	p99Ratio := float64(r.StepAPI.P99) / float64(max(r.StepRaw.P99, 1))
	row(stepsRan, "2. step round trip p50 (`POST …/steps/accept` vs `UpdateWorkflow`)", ms(r.StepAPI.P50), ms(r.StepRaw.P50), fmt.Sprintf("%.2f×", p50Ratio), "—", "—")
	row(stepsRan, "2. step round trip p99", ms(r.StepAPI.P99), ms(r.StepRaw.P99), fmt.Sprintf("%.2f×", p99Ratio), "≤1.2×", met(p99Ratio <= 1.2))
	lifeRan := r.LifeSteward.Cases > 0 && r.LifeRaw.Cases > 0 && r.LifeSteward.Took > 0 && r.LifeRaw.Took > 0
	lifeRatio, stepRatio := 0.0, 0.0
	if lifeRan {
		lifeRatio, stepRatio = r.LifeSteward.perMin()/r.LifeRaw.perMin(), r.LifeSteward.stepsPerSec()/r.LifeRaw.stepsPerSec()
	}
	row(lifeRan, "3. lifecycles/min (SOS, every step, vs 8-update workflow)", fmt.Sprintf("%.0f/min", r.LifeSteward.perMin()), fmt.Sprintf("%.0f/min", r.LifeRaw.perMin()),
		fmt.Sprintf("%.2f", lifeRatio), "≥0.6", met(lifeRatio >= 0.6))
	row(lifeRan, "3. steps/s", fmt.Sprintf("%.0f/s", r.LifeSteward.stepsPerSec()), fmt.Sprintf("%.0f/s", r.LifeRaw.stepsPerSec()), fmt.Sprintf("%.2f", stepRatio), "—", "—")
	footRan := r.Foot.Open > 0 && r.Foot.Worker.RSS > 0
	perCase := float64(r.Foot.AppDelta+r.Foot.TemporalDelta) / float64(max(1, r.Foot.Added))
	row(footRan, fmt.Sprintf("4. worker RSS with %d open cases (`--workflow-cache %d`)", r.Foot.Open, p.Cache), mib(r.Foot.Worker.RSS), "—", "—", "<1 GiB", met(r.Foot.Worker.RSS < 1<<30))
	row(footRan && r.Foot.Added > 0, "4. bytes per open case (app + Temporal database)", fmt.Sprintf("%.1f KiB", perCase/1024), "—", "—", "—", "—")
	rp := r.Replay
	row(rp.ran(), "4. evicted cases replayed (their next step or timer)", rp.cell(), "—", "—", "0 failures", met(rp.failures() == 0))
	lateRan := r.Late.N > 0 && r.Late.Arrived > 0
	row(lateRan, fmt.Sprintf("5. breach-type notification lateness p50 (%d clocks in %s)", r.Late.N, r.Plan.LateSpread), ms(r.Late.Lat.P50), "—", "—", "—", "—")
	row(lateRan, "5. notification lateness p99", ms(r.Late.Lat.P99), "—", "—", "≤2 s", met(r.Late.Arrived == r.Late.N && r.Late.Lat.P99 <= 2*time.Second))
	w("| 6. sla hot paths (`go test -bench ./sla/`) | see below | — | — | — | — |")
	w("")
	if len(r.Errors) > 0 {
		w("**Errors during the run (%d):**", len(r.Errors))
		w("")
		for _, e := range r.Errors {
			w("- %s", e)
		}
		w("")
	}

	w("## What each figure is")
	w("")
	w("1. **Start overhead.** steward: %d signed purchase callbacks (`POST /v1/purchases`: signature and replay check,", p.Starts)
	w("   validation, the order row, the case row, then `ExecuteWorkflow`). Raw: %d `client.ExecuteWorkflow` calls of the same", p.Starts)
	w("   `SOSWorkflow` with the same input, options and search attributes, on the same task queue, served by the same")
	w("   worker. The sides alternate in %d rounds so both meet the same backlog of the cases already started, after a", p.Rounds)
	w("   warm-up of %d starts a side that is not counted (on an idle stack the first round meets no backlog).", p.startWarmup())
	w("   A purchase answered 503 (the API could not start the case in time) is sent again, as the marketplace does,")
	w("   and counts in steward's time: %d were during figure 1, %d in the whole run.", r.StartRetries, r.Retries)
	w("2. **Step round trip.** The `accept` step of the cases just started, once each: steward's side through")
	w("   `POST /v1/cases/{id}/steps/accept` with a partner token (token check, case row, the update, then the case view")
	w("   with its timeline); the raw side `UpdateWorkflow` of the same `step` update with the same `StepInput`, waiting")
	w("   for completion. %d calls a side, alternating in %d rounds.", p.Starts, p.Rounds)
	w("3. **Lifecycle throughput.** steward: %d SOS cases, each bought and driven through all %d calls of the happy path",
		p.Lifecycles, len(steps()))
	w("   (accept, assets, contact, confirm, contain, eradicate, analyze, report, the customer's confirmation, close)")
	w("   by partner bots through the API, each step writing the timeline, the projection and notifications. Raw: %d", p.Lifecycles)
	w("   workflows that take 8 updates with a validator and no activities (`RawLifecycle`), in the benchmark's process.")
	w("   - steward: %d cases in %s; CPU: %s.", r.LifeSteward.Cases, r.LifeSteward.Took.Round(time.Second), r.LifeSteward.cpuLine("temporal", "worker", "api", "bench"))
	w("     Peak RSS: %s (bench = the bots).", r.LifeSteward.rssLine("temporal", "worker", "api", "bench"))
	w("   - raw: %d workflows in %s; CPU: %s.", r.LifeRaw.Cases, r.LifeRaw.Took.Round(time.Second), r.LifeRaw.cpuLine("temporal", "bench"))
	w("     Peak RSS: %s (bench = the raw worker and callers).", r.LifeRaw.rssLine("temporal", "bench"))
	w("   - what one case asks of the server (its event history): steward %s; raw %s.", r.LifeSteward.historyLine(), r.LifeRaw.historyLine())
	w("4. **Open-case footprint.** %d SOS cases open at once, each offered to a partner and waiting on its clocks (the", r.Foot.Open)
	w("   response clock, the 5-day asset window, the offer's timeout): %d from figures 1–2 plus %d more bought through", r.Foot.Open-r.Foot.Added, r.Foot.Added)
	w("   the API, so each has its order, case row, timeline and notification rows as in production (%s until the last",
		r.Foot.Settled.Round(time.Second))
	w("   was offered). The stack's 5x8 calendar makes the days of the run days off (a holiday file on top of the")
	w("   year's schedule, `runDaysOff`), so that the response clocks fall due on the next working day, after the run,")
	w("   whatever hour it starts: bought in Beijing business hours they would all warn and breach within 20 minutes,")
	w("   and the figure would measure that wave (the run reports an error if any arrive).")
	w("   Worker RSS %s (peak %s); Temporal server RSS %s; API RSS %s. App database %s, Temporal database",
		mib(r.Foot.Worker.RSS), mib(r.Foot.Worker.HWM), mib(r.Foot.Temporal.RSS), mib(r.Foot.API.RSS), mib(r.Foot.AppDB))
	w("   (SQLite files) %s in all; the %d cases added grew them by %s and %s: %.1f + %.1f KiB per case.",
		mib(r.Foot.TemporalDB), r.Foot.Added, mib(r.Foot.AppDelta), mib(r.Foot.TemporalDelta),
		float64(r.Foot.AppDelta)/float64(max(1, r.Foot.Added))/1024, float64(r.Foot.TemporalDelta)/float64(max(1, r.Foot.Added))/1024)
	w("   The %d added cases were bought by %d callers, each buying its next once its last was offered: %.0f cases/s;", r.Foot.Added, r.Foot.Callers, r.Foot.rate())
	w("   CPU: %s.", r.Foot.Buy.cpuLine("temporal", "worker", "api", "bench"))
	cache := "its flag's default, `DefaultWorkflowCache` in cmd/steward"
	if p.CacheBy != "" {
		cache = fmt.Sprintf("%s; the flag's default is %d", p.CacheBy, p.CacheDefault)
	}
	w("   The worker runs with `--workflow-cache %d` (%s): it keeps up to that many cases in memory", p.Cache, cache)
	w("   between their workflow tasks (each SOS case holds eight coroutines and its state), so its memory grows with the")
	w("   open cases up to there and then stays flat; cases beyond it are evicted and replayed from their history when")
	w("   their next timer or step arrives (%s cached when the footprint was read).", cachedAtRead(rp))
	w("%s%s", replayLead, rp.text(p))
	w("5. **Timer lateness.** %d SOS cases bought with `paid_at` chosen so that their asset-list window (5 natural days", r.Late.N)
	w("   from payment, a 7x24 SLA clock) falls due within one %s, evenly spread, starting %s after they are bought; all", p.LateSpread, p.LateLead)
	w("   were open %s before the first was due, %s.", r.Late.OpenedBefore.Round(time.Second), openDuring(r.Late.Open))
	w("   Lateness is from the due instant to the case's expiry notification arriving at the Slack peer: the timer, the")
	w("   workflow task, the timeline, projection and outbox write, the worker's notification dispatcher and its HTTP")
	w("   call. %d of %d arrived; p50 %s, p99 %s, max %s.", r.Late.Arrived, r.Late.N, ms(r.Late.Lat.P50), ms(r.Late.Lat.P99), ms(r.Late.Lat.Max))
	w("   The SOS response clock (20 business minutes, 5x8 Asia/Shanghai) would be the breach clock to use, but it can")
	w("   only fall due inside Beijing business hours; the asset window runs the same path (timer → record → notify) at")
	w("   any hour, so `make bench` gives the same figure whenever it runs.")
	w("6. **sla hot paths.** `go test -bench . -benchmem ./sla/`, run by the benchmark after the figures above:")
	w("   `BenchmarkAdd20MinAcrossNationalDay`, `BenchmarkAdd20MinAcrossSpringFestival` (the 20-minute response target")
	w("   across a 9-day holiday) and `BenchmarkBetweenAYear` (a year of 5x8 time).")
	w("")
	if r.SLAErr != nil {
		w("The sla benchmarks failed: %v", r.SLAErr)
		w("")
	}
	if len(r.SLABench) > 0 {
		w("| sla benchmark | iterations | time/op | allocs |")
		w("|---|---|---|---|")
		for _, line := range r.SLABench {
			f := strings.Fields(line)
			row := []string{f[0], "", "", ""}
			if len(f) >= 4 {
				row[1], row[2] = f[1], f[2]+" "+f[3]
			}
			if len(f) >= 8 {
				row[3] = f[4] + " " + f[5] + ", " + f[6] + " " + f[7]
			}
			w("| %s |", strings.Join(row, " | "))
		}
		w("")
	}
	w("%s", profileNotes)
	w("")
	w("## Versions and machine")
	w("")
	w("- %s, GOTOOLCHAIN=local; go.temporal.io/server %s (embedded, SQLite persistence); go.temporal.io/sdk %s", r.GoVersion, r.Server, r.SDK)
	w("- app database: %s through %s", r.DBVersion, r.DBDriver)
	w("- machine: %d cores (%s), %s memory, Linux", runtime.NumCPU(), r.CPU, r.Memory)
	w("- plan: %d callers; %d starts and %d steps a side; %d lifecycles a side; %d open cases (%d of them bought by %d callers at %.0f/s),",
		p.Concurrency, p.Starts, p.Starts, p.Lifecycles, p.Open, r.Foot.Added, p.FootConcurrency, r.Foot.rate())
	w("  the worker's `--workflow-cache %d`, up to %d evicted cases stepped; %d clocks", p.Cache, p.Evict, p.Late)
	w("")
	w("## Reproduce")
	w("")
	w("```")
	w("make bench                                   # this report (the sla Go benchmarks included), on SQLite")
	w("TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable make bench   # PostgreSQL: benchmarks-postgresql.md")
	w("STEWARD_BENCH_CASES=200 STEWARD_BENCH_OPEN=2000 STEWARD_BENCH_LATE=200 make bench        # smaller sizes")
	w("STEWARD_BENCH_CACHE=500 STEWARD_BENCH_FOOT_CALLERS=32 make bench   # the worker's --workflow-cache; the footprint's buyers")
	w("STEWARD_BENCH_PROFILE=/tmp/prof make bench   # also CPU profiles (figure 3) and the worker's heap (figure 4)")
	w("make bench-smoke                             # CI: 20 cases each and one iteration of the sla benchmarks; correctness only")
	w("```")
	w("")
	w("`steward temporal`, `api` and `worker` serve `/debug/pprof/` when `STEWARD_PPROF_ADDR` (`--pprof-addr`) is set; the benchmark")
	w("sets it on loopback ports, and the worker's Prometheus metrics (`STEWARD_METRICS_ADDR`) for figure 4's sticky-cache and")
	w("workflow-task failure counters. The API runs with `STEWARD_RATE_LIMIT=0` and offers with `STEWARD_ACCEPT_TIMEOUT=24h`.")
	w("")
	w("The reports (`GET /v1/reports/sla`, `/v1/reports/partners`) on 100,000 cases in PostgreSQL: [benchmarks-reports.md](benchmarks-reports.md),")
	w("written by the same `make bench` when `TEST_DATABASE_URL` is set.")
	return b.String()
}

// steps are the calls of an SOS case's happy path after the purchase.
func steps() []string {
	return []string{"accept", "assets", "contact", "confirm", "contain", "eradicate", "analyze", "report", "confirm (customer)", "close"}
}

// profileNotes is what profiling the worst ratio found, and what was changed.
const profileNotes = `## Profile: the worst ratio (lifecycle throughput)

Taken with ` + "`STEWARD_BENCH_PROFILE`" + ` (30 s CPU profiles of ` + "`steward temporal`, `worker` and `api`" + ` during figure 3) and
` + "`STEWARD_BENCH_ONLY=life`" + ` runs of 300 lifecycles a side on a quiet machine.

- **Both sides are CPU-bound, so the ratio is the ratio of CPU per case.** During figure 3 the steward side kept
  1.8 of the 2 cores busy and the raw side 1.75: at the same concurrency, cases/min is cores ÷ CPU per case. A
  steward case costs the server
  for its 10 steps, plus the API (HTTP, token or signature check, the case row, the timeline) and the worker
  (the projection and timeline writes, partner choice, notifications, the report). The figure's own lines above give
  the per-process split of this run.
- **Where the server's time goes** (its profile, 2026-11-25): visibility writes 17% (one per search-attribute upsert, each a
  ` + "`REPLACE INTO executions_visibility`" + ` whose SQL SQLite parses anew every time: parsing alone is 14% of the server),
  completing workflow tasks 15%, starting them 8%, garbage collection 9%, updates 4%, activity completions 3%.
  So a case's cost follows its history: the events, workflow tasks and upserts it makes the server write.
- **Fixed (ours), in order:**
  1. Earlier: the projection and timeline write is a local activity (` + "`record-local-activity`" + ` version 1), and a step
     answers with the update's view instead of querying the workflow again (330 → 458 lifecycles/min).
  2. ` + "`versionLean`" + ` (` + "`record-local-activity`" + ` version 2): the partner choice (a read) and the report rendering run as
     local activities, so neither costs an activity task and a second workflow task; search attributes are sent
     only when a value changed; and a timed wait that ends early cancels its timer. The SDK's own timed ` + "`Await`" + `
     leaves the timer to fire (its cancelling sits behind an SDK flag still off by default), so every offer
     accepted, asset list received and SLA clock re-planned woke the case again later for nothing. One SOS case went
     from 109 history events (14 workflow tasks, 4 activities, 13 upserts, 5 timers never cancelled) to 99 (11, 2,
     11, all 5 cancelled); 675 → 889 lifecycles/min, server CPU per case 91 → 76 ms. Cases started before keep
     the path their histories recorded (replayed by the workflows tests).
  3. The worker and the API talked to the server on loopback with gRPC gzip (the SDK's default): about a tenth of
     the worker's CPU and some of the server's went into compressing and decompressing. steward's processes now
     send requests uncompressed to a server on loopback (` + "`STEWARD_TEMPORAL_COMPRESSION`" + ` overrides); the raw
     side's client does the same, so the comparison stays like for like. 889 → 1,081 lifecycles/min (raw 2,081
     → 2,690); server CPU per steward case 76 → 63 ms, worker 29 → 22 ms.
  4. The embedded server re-read its cluster metadata from SQLite on every search-attribute read
     (` + "`ForceSearchAttributesCacheRefreshOnRead`" + `), needlessly: with SQL visibility a custom attribute is an alias kept
     in the namespace, and registration never changes the cluster metadata. It is off; no change beyond noise here.
  5. A purchase wrote its order and its case row in two commits; it now writes both in one transaction (and an
     order can no longer exist without its case).
  6. Notifications leave from a transactional outbox the record's local activity writes, delivered by each
     worker's dispatcher (no activity task, no workflow task to take its result); the search attributes go out
     once the records of a workflow task are done (one upsert per task); the case's opening line rides with its
     first offer; and the clock watch keeps its timer when a step leaves the next due instant as it was. One SOS
     happy-path case: 102 → 90 events (12 → 11 workflow tasks, 2 → 0 activities, 17 → 15 markers, 11 → 10 upserts).
  7. Partner choice counted every partner's open cases at each offer (a GROUP BY over the open cases), so an
     offer cost more the more cases were open: at 15,000 open it was 58% of the worker's CPU, and buying the
     footprint's cases slowed as they piled up (32–38/s at a few thousand open; 98,000 would not have fitted in
     the run). ` + "`partner_loads`" + ` now holds each partner's count, moved in the same transaction as every write of a case
     row (migration 20261201000012 counts the cases already there): 98,000 cases bought at 55/s, as fast at the
     last as at the first, the worker at 8 ms of CPU a case.
  8. A v1-signed purchase's replay claim pruned old claims and claimed in two commits; it is one transaction now.
     The benchmark's marketplace signs v2 (bound to method and path), which is never claimed, so this does not
     show in figure 1: the figure-1 runs read before and after it (0.92, 0.90, 0.90, 0.95; 0.99, 1.00, 0.97,
     1,000 starts a side, ` + "`STEWARD_BENCH_ONLY=start`" + `) are the machine's spread, not the change.
- **The floor of a case's history.** Each of the 10 steps is an update: its workflow task (3 events), the update
  accepted and completed (2), the record's local-activity marker (the timeline, projection and outbox write, 1)
  and, when the stage moved, the search-attribute upsert (1): about 7 events, 68 for the 10 steps. With the start,
  the first task (partner choice, opening record, its upsert, the response clock's plan), the handling clock's
  plan, the report's rendering and the timers of the offer, the asset window, the clocks and the verdict, a case
  is about 90 events; 70 would need steps that write nothing to the history — the projection and timeline written
  from the update's result outside the workflow, or the search attributes dropped — which the Web UI story and
  "nothing lost" rule out.
- **Why the lifecycle ratio is bounded.** Both sides are CPU-bound, so the ratio is raw CPU per case over
  steward's. In the 2026-12-02 18:16 UTC run a raw case cost 46 ms (server 37, its worker and callers 9) and a
  steward case 112 ms (server 65, worker 33, API 11, bots 3); 0.6 allows 76 ms. steward's server and API alone cost
  that much (65 + 11 = 76 ms): the server's share is at least what raw's 8 updates cost it per update, for 10
  (10/8 × 37 = 46 ms), and the rest of its 65 ms writes the markers, upserts and timers that carry the Web UI's
  story and the SLA clocks; the API's 11 HTTP calls (purchase and 10 steps, each with its token or signature check
  and app-database work) cost 11 ms. So 0.6 needs the worker (the records' SQLite transactions: timeline,
  projection, outbox, customer messages, partner loads; the notification, webhook and customer dispatchers; the
  workflow code) and the bots to cost nothing; were the server down to its 46 ms floor, the ratio with everything
  else as it is would be 0.49. The same machine varies by a third between days (the raw case cost 59 ms on
  2026-12-01 22:51, 46 ms here), both sides alike: the ratio read 0.31, 0.46, 0.39 and 0.44 in full runs on
  2026-12-01/02. What would move it: a server that costs less per update, steps that write nothing to the history
  (see above), or records with fewer SQLite statements (SQLite's parser took 13% of the worker's CPU in figure 1:
  bun sends its arguments inline, so no statement is reused). At 400 a side (` + "`STEWARD_BENCH_ONLY=life STEWARD_BENCH_CASES=400`" + `,
  2026-12-01) the ratio is 0.42: 597/min vs 1,430/min, steward 186 ms of CPU a case (server 110, worker 50, API 20,
  bots 6), raw 75 ms (server 60, callers 15), the raw side's start-up weighing more at that size; 0.48 and 0.50 on
  2026-12-02 with the autoscaling pollers (see the progression). The worker's profile there: the records'
  transactions 31% of its CPU (the webhook event feed 7%, the case row with its partner load 8%), the notification
  dispatcher 7%, the workflow code under 10%.
- **Memory at 100,000 open cases.** The worker's RSS follows the cases it caches, not the cases open: with
  ` + "`--workflow-cache 5000`" + ` it read 886–891 MiB with 100,000 open in two runs (its peak while buying 934 MiB), as
  898 MiB had with 10,000 open and the SDK's cache of 10,000.
  A heap and goroutine profile of the worker with the cache full (2026-12-01, during figure 4) gives where it goes:
  each cached SOS case holds 8 coroutines (the kernel's four: the Web UI cancellation, the record flusher, the
  search-attribute upserter and the holiday-data signal; the clock watch; the case's own code and its offer, each
  in a timed wait; the report verdict's watch), so 40,000 goroutines, 268 MB of stacks; the Go heap held 440 MB in use (225 MB live at the
  last collection, the rest garbage the collector lets grow to twice the live heap). Fewer coroutines per case
  (one coroutine doing the kernel's four tasks) or a memory limit for the collector (` + "`GOMEMLIMIT`" + `) would lower it; a
  smaller ` + "`--workflow-cache`" + ` does, at the cost of replaying more cases from their history.
- **Start overhead** (figure 1): a v2-signed purchase is an HTTP request with its HMAC check, the order and case
  transaction, then ` + "`ExecuteWorkflow`" + `. The server is the shared bottleneck (both sides start the same SOS
  workflow on the same worker). Timed inside the API (2026-12-02, 17:42 UTC, 1,000 purchases, 16 callers, 105/s
  against raw 119/s): ` + "`ExecuteWorkflow`" + ` 139 ms mean, about the raw side's 134 ms (16 callers ÷ 119/s); the order and
  case transaction 7.5 ms mean (p50 1.1, p90 21, p99 89 ms; 3.9 ms mean in the next run), nearly all of it waiting
  for SQLite's write lock, which the worker's record steps hold too: each new case's first record (2 timeline
  events, the case row, its clock, a notification, a webhook event) held it 1.9 ms mean (p50 0.8, p99 13 ms), so
  the records alone kept it about a quarter of figure 1's time, and a waiter backs off 1, 2, 5, 10, 15 ms… (SQLite's
  busy handler) between tries; the rest, about 6 ms, is the HTTP hop (the API's own CPU is about 1 ms a purchase:
  1.0 s of CPU in a 30 s profile of the figure). That puts steward at about 0.9 of raw. Between runs the figure
  spreads wider than that margin: until 2026-12-02 the first counted round met an idle stack (no backlog of first
  workflow tasks and records) and read a third faster than the rest, always on the raw side; start-only runs
  (` + "`STEWARD_BENCH_ONLY=start`" + `) read 0.91, 1.03, 0.88, 0.91, 0.80 then, and 1.06, 0.93, 1.01, 0.94 with the
  uncounted warm-up. What would move it: the transaction overlapping the start (it cannot simply follow the start:
  a conflicting re-send of an order must be refused before a workflow runs with its body), fewer statements in a
  record step (each is parsed anew: bun sends its arguments inline, and SQLite's parser was 13% of the worker's
  CPU in figure 1), or PostgreSQL, whose row locks leave the order's insert unaffected by the records of other cases.`

// historyLine sums up a phase's sample history: its events, and of them the server's tasks and writes.
func (p phase) historyLine() string {
	h := p.History
	if len(h) == 0 {
		return "not read"
	}
	total := 0
	for _, n := range h {
		total += n
	}
	return fmt.Sprintf("%d events: %d workflow tasks, %d activities, %d markers (local activities, side effects, versions), %d search-attribute upserts, %d timers (%d cancelled), %d updates",
		total, h["WorkflowTaskCompleted"], h["ActivityTaskScheduled"], h["MarkerRecorded"], h["UpsertWorkflowSearchAttributes"],
		h["TimerStarted"], h["TimerCanceled"], h["WorkflowExecutionUpdateCompleted"])
}

// cell is the replay figure's result: what was stepped and fired, and the failures.
func (rp replay) cell() string {
	stepped := fmt.Sprintf("%d evicted cases stepped", rp.Cases)
	if rp.Cases == 0 {
		stepped = "no case evicted to step"
	}
	timers := fmt.Sprintf("%d timers fired", rp.Timers)
	if rp.Timers == 0 {
		timers = "no timers fired"
	}
	out := fmt.Sprintf("%s, %s; %d workflow-task failures", stepped, timers, rp.failures()-rp.StepFailed)
	if rp.StepFailed > 0 {
		out += fmt.Sprintf(", %d steps failed", rp.StepFailed)
	}
	return out
}

// text is the replay figure's account, wrapped for its place in figure 4's list item.
func (rp replay) text(p plan) string {
	if !rp.ran() {
		return "Not run."
	}
	var b strings.Builder
	if rp.Cases > 0 {
		fmt.Fprintf(&b, "With the cache at %d, the oldest of the open cases have been evicted by newer ones. Once the footprint "+
			"was read, the first %d cases figure 4 bought (offered, waiting for their partner) each took the partner's `accept` "+
			"through the API, as in figure 2: %d answered 200, %d did not", p.Cache, rp.Cases, rp.Cases-rp.StepFailed, rp.StepFailed)
		if rp.Metrics {
			fmt.Fprintf(&b, "; meanwhile the worker counted %.0f sticky-cache misses (a task for a case it no longer held, "+
				"replayed from its full history) and %.0f forced evictions", rp.StepMisses, rp.StepEvictions)
		}
		b.WriteString(". ")
	} else if rp.Skipped != "" {
		fmt.Fprintf(&b, "No case was stepped: %s. ", rp.Skipped)
	}
	if rp.Timers > 0 {
		fmt.Fprintf(&b, "Figure 5's timers fired in %d cases", rp.Timers)
		if rp.Metrics {
			fmt.Fprintf(&b, ", with %.0f sticky-cache misses during figure 5", rp.TimerMisses)
			if rp.TimerMisses < float64(rp.Timers) && p.Cache >= rp.Timers {
				fmt.Fprintf(&b, " (its %d cases, bought after the steps, were fewer than the cache holds, so most were still "+
					"cached when their timers fired; a timer replaying an evicted case is what `make bench-smoke` checks, with a "+
					"cache of 5)", rp.Timers)
			}
		}
		b.WriteString(". ")
	}
	fmt.Fprintf(&b, "WorkflowTaskFailed events in these cases' histories: %s", rp.causes())
	if rp.Metrics {
		fmt.Fprintf(&b, "; the worker's `temporal_workflow_task_execution_failed` rose by %.0f from before the steps to the end", rp.FailedMetric)
	}
	fmt.Fprintf(&b, ". WorkflowTaskTimedOut events, not counted as failures: %d.", rp.TaskTimedOut)
	return wrap(b.String(), len(replayLead), "     ", 116)
}

// wrap breaks s into lines of at most width characters, the first one starting at column first and the
// others after indent.
func wrap(s string, first int, indent string, width int) string {
	var b strings.Builder
	line := first
	for i, word := range strings.Fields(s) {
		switch {
		case i == 0:
		case line+1+len(word) > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}

// replayLead begins the replay figure's item in figure 4.
const replayLead = "   - **Replay after eviction.** "

// cachedAtRead is the worker's sticky-cache size when the footprint was read, as the worker's metrics gave it.
func cachedAtRead(rp replay) string {
	if !rp.Metrics || rp.Cases == 0 {
		return "its size not read"
	}
	return fmt.Sprintf("%.0f", rp.CachedAtRead)
}

// openDuring says how many cases were open while figure 5's clocks fell due.
func openDuring(n int64) string {
	if n < 0 {
		return "the open cases not counted"
	}
	return fmt.Sprintf("and %d SOS cases were open in all just before (figure 4's among them)", n)
}
