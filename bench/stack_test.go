package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"gopkg.in/yaml.v3"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/reliability"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// rawTaskQueue is the task queue of the raw SDK side's worker, which runs in the test process.
const rawTaskQueue = "bench-raw"

// rawUpdate is the raw lifecycle's one update.
const rawUpdate = "step"

// RawLifecycle is the raw SDK side of the lifecycle comparison: a workflow that takes steps 1..n as
// updates, each checked by a validator to be the next one, and ends when the last is done. It does no
// activities, so it is what the server costs for a case of n updates and nothing more.
func RawLifecycle(ctx workflow.Context, n int) (int, error) {
	done := 0
	err := workflow.SetUpdateHandlerWithOptions(ctx, rawUpdate, func(ctx workflow.Context, step int) (int, error) {
		done = step
		return done, nil
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, step int) error {
		if step != done+1 {
			return fmt.Errorf("step %d out of order; next is %d", step, done+1)
		}
		return nil
	}})
	if err != nil {
		return 0, err
	}
	if err := workflow.Await(ctx, func() bool { return done == n && workflow.AllHandlersFinished(ctx) }); err != nil {
		return 0, err
	}
	return done, nil
}

// stack is steward's three processes on one embedded Temporal server, the app database, a Slack peer
// that records when each notification arrived, and the raw side's client and worker.
type stack struct {
	t        *testing.T
	dir      string
	dsn      string
	pg       bool
	schema   string
	store    *db.Store
	slack    *slackRecorder
	temporal *reliability.Proc
	worker   *reliability.Proc
	api      *reliability.Proc
	tc       client.Client
	raw      sdkworker.Worker
	baseURL  string
	// baseURLs, when set, are several APIs: each request goes to the next of them (the cluster's two).
	baseURLs []string
	nextURL  atomic.Uint64
	// tag tells this stack's cases from another's on the same server and database (the scale-out figure
	// runs the comparisons once with one worker and once with two).
	tag string
	// pids names the processes whose CPU and memory the figures read: the server, the worker(s), the
	// API(s) and the benchmark itself.
	pids     func() map[string]int
	secret   []byte
	manager  string
	partners map[string]string // partner ID → token
	pprof    map[string]string // process name → pprof address
	http     *http.Client
	retries  atomic.Int64 // purchase callbacks sent again after a 5xx or no answer

	// metricsAddr is where the worker serves its Prometheus metrics (the SDK's sticky cache and task failures).
	metricsAddr string
}

// envBin names a built steward binary (default: built into a temporary directory).
const envBin = "STEWARD_BIN"

// newStack starts the stack for plan pl: the worker runs with --workflow-cache pl.Cache, after pl.CacheDefault
// is set to the flag's default (and pl.Cache too, when pl leaves it 0).
func newStack(t *testing.T, pl *plan) *stack {
	ctx := t.Context()
	dir := t.TempDir()
	s := &stack{t: t, dir: dir, slack: newSlackRecorder(), secret: []byte("bench-marketplace-secret-0123456789"),
		partners: map[string]string{}, pprof: map[string]string{},
		http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	t.Cleanup(s.slack.Close)
	bin, err := reliability.BuildSteward(ctx, os.Getenv(envBin), dir)
	require.NoError(t, err)
	pl.CacheDefault, err = workflowCacheDefault(ctx, bin)
	require.NoError(t, err)
	if pl.Cache == 0 {
		pl.Cache = pl.CacheDefault
	}

	s.dsn = "sqlite:" + filepath.Join(dir, "steward.db")
	if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
		s.dsn, s.schema = dbtest.SchemaURL(ctx, t, base, "bench_")
		s.pg = true
	}
	s.store, err = db.Open(ctx, s.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.store.Close() })
	require.NoError(t, s.store.Migrate(ctx))
	for _, id := range []string{"bench-a", "bench-b"} {
		require.NoError(t, s.store.AddPartner(ctx, &db.Partner{ID: id, Name: id, Services: []string{workflows.ServiceSOS},
			Capacity: 1_000_000, SlackChannel: "#partner-" + id, Active: true, CreatedAt: time.Now()}))
		s.partners[id], _, err = s.store.IssueToken(ctx, db.RolePartner, id, "bot of "+id)
		require.NoError(t, err)
	}
	s.manager, _, err = s.store.IssueToken(ctx, db.RoleManager, "", "bench manager")
	require.NoError(t, err)

	tport, aport := freePort(t), freePort(t)
	env := []string{
		"TEMPORAL_ADDRESS=127.0.0.1:" + strconv.Itoa(tport), "TEMPORAL_NAMESPACE=default", "DATABASE_URL=" + s.dsn,
		"SLACK_BOT_TOKEN=xoxb-bench", "STEWARD_SLACK_API_URL=" + s.slack.URL(), "STEWARD_SLACK_OPS_CHANNEL=#ops",
		"STEWARD_LOG_LEVEL=warn", "STEWARD_MARKETPLACE_SECRET=" + string(s.secret), "STEWARD_API_ADDR=127.0.0.1:" + strconv.Itoa(aport),
		// No per-token rate limit: the bots are one marketplace and two partners sending as fast as they can.
		"STEWARD_RATE_LIMIT=0",
		// Offers do not time out during the run, so open cases wait on their clocks and nothing else.
		"STEWARD_ACCEPT_TIMEOUT=24h",
		sla.EnvHolidayFiles + "=" + runDaysOff(t, dir),
	}
	logs := filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(logs, 0o700))
	mk := func(name string, args ...string) *reliability.Proc {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		s.pprof[name] = addr
		penv := append(append([]string(nil), env...), "STEWARD_PPROF_ADDR="+addr)
		p := &reliability.Proc{Name: name, Bin: bin, Args: args, Env: penv, Log: filepath.Join(logs, name+".log")}
		t.Cleanup(func() {
			p.Stop()
			if t.Failed() {
				if out, err := os.ReadFile(p.Log); err == nil {
					t.Logf("--- %s log (tail)\n%s", name, reliability.Tail(string(out), 4000))
				}
			}
		})
		return p
	}
	s.temporal = mk("temporal", "temporal", "--data-dir", filepath.Join(dir, "temporal"), "--temporal-port", strconv.Itoa(tport), "--ui-port", "0", "--log-level", "warn")
	s.worker = mk("worker", "worker", "--"+workflowCacheFlag, strconv.Itoa(pl.Cache))
	s.metricsAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	s.worker.Env = append(s.worker.Env, "STEWARD_METRICS_ADDR="+s.metricsAddr)
	s.api = mk("api", "api")
	require.NoError(t, s.temporal.Start())
	s.tc = dialTemporal(t, tport)
	t.Cleanup(s.tc.Close)
	require.NoError(t, s.worker.Start())
	require.NoError(t, s.api.Start())
	s.baseURL = "http://127.0.0.1:" + strconv.Itoa(aport)
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, reliability.WaitFor(rctx, s.apiReady))

	s.pids = func() map[string]int {
		return map[string]int{"temporal": s.temporal.PID(), "worker": s.worker.PID(), "api": s.api.PID(), "bench": os.Getpid()}
	}
	s.raw = sdkworker.New(s.tc, rawTaskQueue, sdkworker.Options{})
	s.raw.RegisterWorkflow(RawLifecycle)
	require.NoError(t, s.raw.Start())
	t.Cleanup(s.raw.Stop)
	return s
}

// runDaysOff writes holiday files that make the days of this run (Asia/Shanghai, from now to the test's
// deadline) days off on the 5x8 calendar, on top of the built-in schedule of their years, and returns
// their paths, comma-separated, for STEWARD_HOLIDAY_FILES. An SOS case's response clock counts 20
// business minutes from payment, so without them every case bought in Beijing business hours has an
// at-risk warning and a breach due within the run: the footprint's 100,000 cases, bought over most of an
// hour, would meet their own breach wave and measure that instead of memory, and the figures would
// depend on the hour the run starts. With them the response clocks fall due on the next working day,
// after the run, whenever it starts. The breach path itself is figure 5's (the asset window, 7x24).
func runDaysOff(t *testing.T, dir string) string {
	until := time.Now().Add(3 * time.Hour)
	if d, ok := t.Deadline(); ok {
		until = d
	}
	paths, err := daysOff(dir, time.Now(), until)
	require.NoError(t, err)
	return strings.Join(paths, ",")
}

// daysOff writes into dir, one per year, the cn holiday files that add the days from..until
// (Asia/Shanghai) as days off to the year's built-in schedule, and returns their paths.
func daysOff(dir string, from, until time.Time) ([]string, error) {
	zone, err := time.LoadLocation(sla.DefaultZone)
	if err != nil {
		return nil, err
	}
	files := map[int]*sla.HolidayFile{}
	last := until.In(zone).Format(time.DateOnly)
	for d := from.In(zone); d.Format(time.DateOnly) <= last; d = d.AddDate(0, 0, 1) {
		f := files[d.Year()]
		if f == nil {
			built, ok, err := sla.BuiltinHolidayFile(sla.RegionCN, d.Year())
			if err != nil {
				return nil, err
			}
			if !ok {
				built = sla.HolidayFile{Region: sla.RegionCN, Year: d.Year()}
			}
			f = &built
			files[d.Year()] = f
		}
		date := d.Format(time.DateOnly)
		if slices.ContainsFunc(f.Off, func(r sla.HolidayRange) bool { return r.From <= date && date <= r.To }) {
			continue // a holiday already
		}
		f.Off = append(f.Off, sla.HolidayRange{Name: "steward bench run", From: date, To: date})
		f.Work = slices.DeleteFunc(f.Work, func(w string) bool { return w == date })
	}
	var paths []string
	for year, f := range files {
		data, err := yaml.Marshal(f)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", sla.RegionCN, year))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func dialTemporal(t *testing.T, port int) client.Client {
	c, err := reliability.DialTemporal(t.Context(), fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	return c
}

func freePort(t *testing.T) int {
	p, err := reliability.FreePort()
	require.NoError(t, err)
	return p
}

func (s *stack) apiReady(ctx context.Context) error { return reliability.APIReady(ctx, s.baseURL) }

// bots is a reliability client on this stack, for whole SOS cases.
func (s *stack) bots() *reliability.Client {
	return &reliability.Client{BaseURL: s.baseURL, BaseURLs: s.baseURLs, Secret: s.secret, Manager: s.manager, Partners: s.partners, HTTP: s.http}
}

// url is where the next request goes: the API, or the next of the APIs.
func (s *stack) url() string {
	if len(s.baseURLs) == 0 {
		return s.baseURL
	}
	return s.baseURLs[(s.nextURL.Add(1)-1)%uint64(len(s.baseURLs))]
}

// order is one SOS purchase.
type order struct {
	ID     string
	PaidAt time.Time
}

func (o order) caseID() string { return workflows.CaseWorkflowID(workflows.ServiceSOS, o.ID) }

func (o order) purchaseBody() []byte {
	b, _ := json.Marshal(map[string]any{
		"order_id": o.ID, "customer_id": "cust-bench", "service": workflows.ServiceSOS, "spec": sla.SpecAnalysisRemote,
		"quantity": 1, "amount_cents": 500_000, "currency": "CNY", "paid_at": o.PaidAt.UTC().Format(time.RFC3339Nano),
		"contact": map[string]any{"name": "Bench Bot", "phone": "+86 138 0000 0000", "email": "bot@example.com"},
	})
	return b
}

// caseInput is what the API's purchase handler starts the workflow with for o.
func (o order) caseInput() workflows.CaseInput {
	return workflows.CaseInput{CaseID: o.caseID(), OrderID: o.ID, CustomerID: "cust-bench", Service: workflows.ServiceSOS,
		Spec: sla.SpecAnalysisRemote, Quantity: 1, AmountCents: 500_000, Currency: "CNY", PaidAt: o.PaidAt.UTC(),
		AcceptTimeout: 24 * time.Hour}
}

// do sends one request once and wants the status; with want 0 any status is returned in *got instead.
func (s *stack) do(ctx context.Context, method, path string, body []byte, want int, decorate func(*http.Request), got ...*int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url()+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	decorate(req)
	res, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if want == 0 {
		*got[0] = res.StatusCode
		return out, nil
	}
	if res.StatusCode != want {
		return out, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, reliability.Tail(string(out), 300))
	}
	return out, nil
}

// purchase is the marketplace's signed purchase callback. Like the marketplace, it sends the callback again
// when the answer is a 5xx or none (the API answers 503 when it could not start the case in time, and a
// repeated callback completes it), for up to two minutes; the retries are counted.
func (s *stack) purchase(ctx context.Context, o order) error {
	body := o.purchaseBody()
	backoff := 200 * time.Millisecond
	giveUp := time.Now().Add(2 * time.Minute)
	for {
		var status int
		_, err := s.do(ctx, http.MethodPost, "/v1/purchases", body, 0, func(req *http.Request) {
			ts := time.Now()
			req.Header.Set(api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
			req.Header.Set(api.HeaderSignature, api.SignRequest(s.secret, ts, req.Method, req.URL.Path, body))
		}, &status)
		switch {
		case err == nil && (status == http.StatusCreated || status == http.StatusOK):
			return nil
		case err == nil && status < 500:
			return fmt.Errorf("purchase %s: %d", o.ID, status)
		case time.Now().After(giveUp) || ctx.Err() != nil:
			return fmt.Errorf("purchase %s: gave up: status %d, %v", o.ID, status, err)
		}
		s.retries.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// step is a partner's step through the API.
func (s *stack) step(ctx context.Context, caseID, partner, step string, body []byte) error {
	_, err := s.do(ctx, http.MethodPost, "/v1/cases/"+caseID+"/steps/"+step, body, http.StatusOK, func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+s.partners[partner])
	})
	return err
}

// partnerOf waits until the case has been offered to a partner and returns it. It looks every 100 ms at
// first, then less often, so that many callers waiting on a busy stack do not load its database.
func (s *stack) partnerOf(ctx context.Context, caseID string) (string, error) {
	every := 100 * time.Millisecond
	for {
		row, err := s.store.GetCase(ctx, caseID)
		if err == nil && row.PartnerID != "" {
			return row.PartnerID, nil
		}
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no partner offered: %w", caseID, ctx.Err())
		case <-time.After(every):
		}
		every = min(every*3/2, time.Second)
	}
}

// slackRecorder is a Slack Web API peer that records when each notification (by its key) first arrived.
type slackRecorder struct {
	srv *httptest.Server

	mu      sync.Mutex
	arrived map[string]time.Time
	posts   int
}

func newSlackRecorder() *slackRecorder {
	r := &slackRecorder{arrived: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/chat.postMessage", r.postMessage)
	r.srv = httptest.NewServer(mux)
	return r
}

func (r *slackRecorder) URL() string { return r.srv.URL + "/" }

func (r *slackRecorder) Close() { r.srv.Close() }

func (r *slackRecorder) postMessage(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	if err := req.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var meta struct {
		Payload struct {
			Key string `json:"key"`
		} `json:"event_payload"`
	}
	_ = json.Unmarshal([]byte(req.FormValue("metadata")), &meta)
	r.mu.Lock()
	r.posts++
	if _, ok := r.arrived[meta.Payload.Key]; !ok {
		r.arrived[meta.Payload.Key] = now
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": req.FormValue("channel"), "ts": strconv.FormatInt(now.UnixMicro(), 10)})
}

// count is how many distinct notification keys that arrived match.
func (r *slackRecorder) count(match func(key string) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k := range r.arrived {
		if match(k) {
			n++
		}
	}
	return n
}

// arrival returns when the notification with key first arrived.
func (r *slackRecorder) arrival(key string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.arrived[key]
	return at, ok
}

// procStat is a process's CPU time so far and its memory.
type procStat struct {
	CPU      time.Duration // user + system
	RSS, HWM int64         // resident set now and at its peak, bytes
}

// readProc reads /proc/<pid>/stat and status (Linux).
func readProc(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			st.RSS = kb << 10
		case "VmHWM":
			st.HWM = kb << 10
		}
	}
	return st, nil
}

// machineBusy is the CPU time all processes on the machine have used since boot (/proc/stat: everything but
// idle and iowait).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// others measures how busy the rest of the machine was: the CPU time used by processes other than the
// stack's and the benchmark's own, as cores on average.
type others struct {
	s     *stack
	start time.Time
	busy  time.Duration
	ours  time.Duration
}

func (s *stack) ourCPU() time.Duration {
	return cpuOf(s.pids())
}

func (s *stack) othersFrom() others {
	return others{s: s, start: time.Now(), busy: machineBusy(), ours: s.ourCPU()}
}

// cores is the other processes' average number of busy cores since o was taken.
func (o others) cores() float64 {
	wall := time.Since(o.start).Seconds()
	other := (machineBusy() - o.busy) - (o.s.ourCPU() - o.ours)
	return max(0, other.Seconds()/wall)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times; 100 on every Linux this runs on.
const clockTicks = 100
