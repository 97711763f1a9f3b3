package reliability

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications/dingtalktest"
	"github.com/steward-oss/steward/workflows"
)

// Environment that selects and shapes the battery.
const (
	// EnvMode is "short" (CI) or "full" (make reliability); unset skips the battery.
	EnvMode = "STEWARD_RELIABILITY"
	// EnvReport names the Markdown file the figures are written to.
	EnvReport = "STEWARD_RELIABILITY_REPORT"
	// EnvBin names a built steward binary to run (default: built into a temporary directory).
	EnvBin = "STEWARD_BIN"
	// EnvPGRestart is the command that restarts PostgreSQL (default: pg_ctlcluster when it is installed).
	EnvPGRestart = "STEWARD_PG_RESTART"
	// EnvTopology is "embedded" (default: `steward temporal`, one worker, one API) or "cluster": the official
	// temporal-server on PostgreSQL (deploy/temporal/), two workers and two APIs; the cluster needs
	// TEST_DATABASE_URL.
	EnvTopology = "STEWARD_RELIABILITY_TOPOLOGY"
)

// Topologies the battery runs against.
const (
	TopologyEmbedded = "embedded"
	TopologyCluster  = "cluster"
)

// plan is the battery's size.
type plan struct {
	Mode                  string
	Bots                  int
	CrashCases            int              // at least this many cases in the crash phase
	WorkerKills, APIKills int              // SIGKILLs of each process in the crash phase
	KillGap               [2]time.Duration // random wait between kills
	Down                  [2]time.Duration // how long a killed process stays down
	OutageCases           int
	SlackOutage           time.Duration // each of: 500s, then 429s
	CaseTimeout           time.Duration // a bot gives up on a case after this
	WebhookFail           float64       // fraction of webhook requests the receiver answers 500
	WebhookHang           float64       // fraction it hangs until the dispatcher's timeout cuts them
	WebhookWait           time.Duration // how long after the last case every event may take to arrive
	TemporalDown          time.Duration // how long the Temporal server stays down after its SIGKILL
	TimerCases            int           // cases whose asset window falls due while the server is down
}

func planFor(mode string) plan {
	if mode == "calm" { // no faults: a baseline while debugging the battery itself
		p := planFor("short")
		p.Mode, p.WorkerKills, p.APIKills = mode, 0, 0
		return p
	}
	if mode == "full" {
		return plan{Mode: mode, Bots: 12, CrashCases: 200, WorkerKills: 6, APIKills: 6,
			KillGap: [2]time.Duration{2 * time.Second, 7 * time.Second}, Down: [2]time.Duration{200 * time.Millisecond, 2 * time.Second},
			OutageCases: 100, SlackOutage: 8 * time.Second, CaseTimeout: 5 * time.Minute,
			WebhookFail: 0.1, WebhookHang: 0.005, WebhookWait: 3 * time.Minute, TemporalDown: 8 * time.Second, TimerCases: 20}
	}
	return plan{Mode: mode, Bots: 4, CrashCases: 20, WorkerKills: 2, APIKills: 2,
		KillGap: [2]time.Duration{time.Second, 3 * time.Second}, Down: [2]time.Duration{200 * time.Millisecond, time.Second},
		OutageCases: 20, SlackOutage: 3 * time.Second, CaseTimeout: 2 * time.Minute,
		WebhookFail: 0.1, WebhookHang: 0.005, WebhookWait: 90 * time.Second, TemporalDown: 5 * time.Second, TimerCases: 6}
}

func randBetween(r [2]time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(r[1]-r[0])+1))
	return r[0] + time.Duration(n.Int64())
}

// battery is the stack under test: the Temporal server, steward's workers and APIs as processes, the
// database, a fake Slack and the bots.
type battery struct {
	t        *testing.T
	plan     plan
	topology string
	dir      string
	dsn      string
	pg       bool
	store    *db.Store
	slack    *FakeSlack
	ding     *dingtalktest.Server // the customers' DingTalk robots, a quarter of the cases
	temporal *Proc
	workers  []*Proc
	apis     []*Proc
	apiURLs  []string
	cluster  *Cluster
	tc       client.Client
	bots     *Client
	hostPort string // the Temporal frontend
	timers   timerStats

	hooks      *WebhookReceiver // the marketplace's webhook endpoint
	market     *marketBot       // pays the refunds it is told of
	webhooksOn bool

	midDeliveryKills atomic.Int64

	mu     sync.Mutex
	orders []SOSOrder
	failed []string
	events []string // what the chaos did, in order, for the report
	start  time.Time
}

func (b *battery) logEvent(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	line := fmt.Sprintf("%6.1fs  ", time.Since(b.start).Seconds()) + fmt.Sprintf(format, args...)
	b.events = append(b.events, line)
	b.t.Log(line)
}

// TestBattery is the reliability battery (see the package comment). It runs only when STEWARD_RELIABILITY
// is set: `make reliability` (full) and CI (short).
func TestBattery(t *testing.T) {
	mode := os.Getenv(EnvMode)
	if mode == "" {
		t.Skip("set " + EnvMode + "=short or full (make reliability) to run the fault battery")
	}
	topology := os.Getenv(EnvTopology)
	switch topology {
	case "":
		topology = TopologyEmbedded
	case TopologyEmbedded, TopologyCluster:
	default:
		t.Fatalf("%s=%q: want %s or %s", EnvTopology, topology, TopologyEmbedded, TopologyCluster)
	}
	b := newBattery(t, planFor(mode), topology)
	ctx := t.Context()

	crash := b.phase(ctx, "crash", b.plan.CrashCases, func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { b.chaos(ctx, b.workers, b.plan.WorkerKills*len(b.workers), false, true) })
		wg.Go(func() { b.chaos(ctx, b.apis, b.plan.APIKills*len(b.apis), true, false) })
		wg.Wait()
	})
	outage := b.phase(ctx, "outage", b.plan.OutageCases, b.outages)

	rep := b.verify(ctx)
	rep.Webhooks = b.verifyWebhooks(ctx)
	rep.Customer = b.verifyCustomer(ctx)
	rep.Plan, rep.Crash, rep.Outage = b.plan, crash, outage
	rep.Events = b.events
	text := rep.markdown()
	t.Log("\n" + text)
	if out := os.Getenv(EnvReport); out != "" {
		section := "battery"
		if topology == TopologyCluster {
			section = "battery-cluster"
		}
		require.NoError(t, writeReport(out, section, text))
	}
	require.Empty(t, b.failed, "bots that could not finish their case")
	require.Zero(t, rep.Lost, "lost cases")
	require.Zero(t, rep.WrongState, "cases not in their expected state")
	require.Zero(t, rep.DoubledEvents, "doubled timeline rows")
	require.Zero(t, rep.DoubledRefunds, "doubled refunds")
	require.Equal(t, rep.RefundExpected, rep.RefundActual, "refund sum")
	require.Zero(t, rep.NotSent, "notifications not sent")
	require.Zero(t, rep.SlackMissing, "notifications missing in Slack")
	require.Zero(t, rep.SlackDoubled, "notifications doubled in Slack")
	tm := rep.Timers
	require.Positive(t, tm.Due, "timers fell due while the Temporal server was down")
	require.Equal(t, tm.Due, tm.FiredAfter, "timers due while the Temporal server was down fired after it returned")
	require.Zero(t, tm.Early, "timers that fired before they were due")
	require.Zero(t, tm.Doubled, "timer cases with a doubled expiry or refund")
	// Rate limits: TestSlackRateLimitHoldsEveryPost (notifications) proves the hold; arrivals here are only
	// reported, as a request sent before its connection's 429 was read can reach a loaded server late.
	t.Logf("requests on a connection inside its Retry-After: %d %v", rep.Slack.Early, rep.Slack.EarlyAt)
	if b.midDeliveryKills.Load() > 0 {
		require.Positive(t, rep.Slack.Lookups, "a delivery cut short by a SIGKILL is looked up before it is sent again")
	}
	require.Positive(t, rep.Slack.Served500, "Slack outage happened")
	require.Positive(t, rep.Slack.Served429, "Slack rate limit happened")

	cm := rep.Customer
	require.Positive(t, cm.Cases, "cases with a customer DingTalk group")
	require.Positive(t, cm.Expected, "customer messages recorded")
	require.Zero(t, cm.Missing, "customer messages that never reached their group")
	require.Zero(t, cm.Unexpected, "messages in a group that no case recorded")
	require.Zero(t, cm.Failed+cm.Pending, "customer deliveries given up or still pending")
	require.Zero(t, cm.BadSign, "customer robot calls DingTalk would refuse for their signature")
	require.Zero(t, cm.RateLimited, "customer robots sent beyond their limit")
	require.LessOrEqual(t, cm.Doubled, cm.Reclaimed, "a message arrives twice only when a worker died between its send and its mark")

	w := rep.Webhooks
	require.Zero(t, w.SequenceGaps, "cases whose outbox sequence is not 1..n")
	require.Zero(t, w.RowsWithoutEvent, "timeline rows and refunds without their webhook event")
	require.Zero(t, w.Orphans, "webhook events without their timeline row or refund")
	require.Zero(t, w.BadSignatures, "webhook signature failures")
	require.Zero(t, w.Malformed, "malformed webhook deliveries")
	require.Zero(t, w.Missing, "webhook events never received")
	require.Zero(t, w.OutOfOrder, "webhook events out of order after dedup")
	require.Zero(t, w.BodyMismatch, "webhook bodies unlike the outbox")
	require.Zero(t, w.Unexpected, "webhook events not in the outbox")
	require.Zero(t, w.Failed, "webhook deliveries given up")
	require.Zero(t, w.Pending, "webhook deliveries still pending")
	require.Positive(t, w.Served500, "the receiver failed at random")
	require.Positive(t, w.Hung, "the receiver hung at random")
	if !w.PayUnavailable {
		require.Zero(t, w.PayRefused, "refunds the marketplace bot could not report paid")
		require.Equal(t, w.RefundsOwed, w.RefundsPaid, "refunds paid = refunds owed")
	}
}

func newBattery(t *testing.T, p plan, topology string) *battery {
	ctx := t.Context()
	dir := t.TempDir()
	b := &battery{t: t, plan: p, topology: topology, dir: dir, slack: NewFakeSlack(), ding: dingtalktest.NewServer(dingtalktest.Options{}), start: time.Now()}
	t.Cleanup(b.slack.Close)
	t.Cleanup(b.ding.Close)
	bin, err := BuildSteward(ctx, os.Getenv(EnvBin), dir)
	require.NoError(t, err)

	b.dsn, b.pg = "sqlite:"+filepath.Join(dir, "steward.db"), false
	if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
		b.dsn, _ = dbtest.SchemaURL(ctx, t, base, "reliability_")
		b.pg = true
	} else if topology == TopologyCluster {
		t.Fatal("the cluster topology runs the Temporal server on PostgreSQL: set TEST_DATABASE_URL")
	}
	b.store, err = db.Open(ctx, b.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.store.Close() })
	require.NoError(t, b.store.Migrate(ctx))

	secret := "reliability-marketplace-secret"
	partners := map[string]string{}
	for _, id := range []string{"rel-a", "rel-b"} {
		require.NoError(t, b.store.AddPartner(ctx, &db.Partner{ID: id, Name: id, Services: []string{workflows.ServiceSOS},
			Capacity: 10_000, SlackChannel: "#partner-" + id, Active: true, CreatedAt: time.Now()}))
		partners[id], _, err = b.store.IssueToken(ctx, db.RolePartner, id, "bot of "+id)
		require.NoError(t, err)
	}
	manager, _, err := b.store.IssueToken(ctx, db.RoleManager, "", "reliability manager")
	require.NoError(t, err)

	aport, err := FreePort()
	require.NoError(t, err)
	env := []string{
		"TEMPORAL_NAMESPACE=default", "DATABASE_URL=" + b.dsn,
		"SLACK_BOT_TOKEN=xoxb-reliability", "STEWARD_SLACK_API_URL=" + b.slack.URL(), "STEWARD_SLACK_OPS_CHANNEL=#ops",
		"STEWARD_LOG_LEVEL=warn", "STEWARD_MARKETPLACE_SECRET=" + secret, "STEWARD_API_ADDR=127.0.0.1:" + fmt.Sprint(aport),
		"STEWARD_RATE_LIMIT=0", "STEWARD_DINGTALK_API_URL=" + b.ding.URL(),
	}
	market := &Client{Secret: []byte(secret), HTTP: &http.Client{Timeout: 30 * time.Second}}
	b.bots = &Client{Secret: []byte(secret), Manager: manager, Partners: partners, HTTP: &http.Client{Timeout: 30 * time.Second}}
	if topology == TopologyCluster {
		b.cluster = StartCluster(t, ClusterOptions{Dir: dir, Steward: bin, BaseDSN: os.Getenv("TEST_DATABASE_URL"), Env: env,
			Workers: 2, APIs: 2, Logf: b.logEvent})
		b.temporal, b.workers, b.apis, b.apiURLs, b.hostPort = b.cluster.Temporal, b.cluster.Workers, b.cluster.APIs, b.cluster.APIURLs, b.cluster.HostPort
		b.logEvent("steward setup: %s", strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(b.cluster.Setup), "\n", "; ")), " "))
		env = append(env, "TEMPORAL_ADDRESS="+b.hostPort)
		market.BaseURLs, b.bots.BaseURLs = b.apiURLs, b.apiURLs
		b.subscribeWebhooks(ctx, bin, env, market)
		b.tc = b.dialTemporal(ctx)
		t.Cleanup(b.tc.Close)
		b.logEvent("stack up: temporal-server %s (PostgreSQL: %s, %s), workers %d, apis %v, database PostgreSQL", b.hostPort,
			b.cluster.DBs[0], b.cluster.DBs[1], len(b.workers), b.apiURLs)
		return b
	}

	tport, err := FreePort()
	require.NoError(t, err)
	b.hostPort = "127.0.0.1:" + fmt.Sprint(tport)
	env = append(env, "TEMPORAL_ADDRESS="+b.hostPort)
	logs := filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(logs, 0o700))
	mk := func(name string, args ...string) *Proc {
		p := &Proc{Name: name, Bin: bin, Args: args, Env: env, Log: filepath.Join(logs, name+".log")}
		t.Cleanup(func() {
			p.Stop()
			if t.Failed() {
				if out, err := os.ReadFile(p.Log); err == nil {
					t.Logf("--- %s log (tail)\n%s", name, Tail(string(out), 4000))
				}
			}
		})
		return p
	}
	b.temporal = mk("temporal", "temporal", "--data-dir", filepath.Join(dir, "temporal"), "--temporal-port", fmt.Sprint(tport), "--ui-port", "0", "--log-level", "warn")
	b.workers = []*Proc{mk("worker", "worker")}
	b.apis = []*Proc{mk("api", "api")}
	b.apiURLs = []string{"http://127.0.0.1:" + fmt.Sprint(aport)}
	market.BaseURL, b.bots.BaseURL = b.apiURLs[0], b.apiURLs[0]
	b.subscribeWebhooks(ctx, bin, env, market)

	require.NoError(t, b.temporal.Start())
	b.tc = b.dialTemporal(ctx)
	t.Cleanup(b.tc.Close)
	require.NoError(t, b.workers[0].Start())
	require.NoError(t, b.apis[0].Start())
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, WaitFor(rctx, b.apiReady))
	b.logEvent("stack up: temporal %s, api :%d, database %s", b.hostPort, aport, map[bool]string{true: "PostgreSQL", false: "SQLite"}[b.pg])
	return b
}

func (b *battery) dialTemporal(ctx context.Context) client.Client {
	c, err := DialTemporal(ctx, b.hostPort)
	require.NoError(b.t, err)
	return c
}

// apiReady is nil once every API answers /readyz with 200.
func (b *battery) apiReady(ctx context.Context) error {
	for _, u := range b.apiURLs {
		if err := APIReady(ctx, u); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
	}
	return nil
}

// phaseStats is what one phase did.
type phaseStats struct {
	Name     string
	Cases    int
	Duration time.Duration
}

// phase drives at least minCases SOS cases with the bots while chaos runs, and keeps starting cases until
// chaos is over, so every fault lands on a loaded stack.
func (b *battery) phase(ctx context.Context, name string, minCases int, chaos func(context.Context)) phaseStats {
	start := time.Now()
	b.logEvent("phase %s: %d bots, at least %d cases", name, b.plan.Bots, minCases)
	var started atomic.Int64
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		chaos(ctx)
	}()
	more := func() bool {
		select {
		case <-chaosDone:
			return started.Load() < int64(minCases)
		default:
			return true
		}
	}
	var wg sync.WaitGroup
	for range b.plan.Bots {
		wg.Go(func() {
			for more() {
				n := started.Add(1)
				o := SOSOrder{OrderID: fmt.Sprintf("REL-%s-%04d", strings.ToUpper(name), n), PaidAt: time.Now().Add(-time.Minute), AmountCents: 500_000}
				if n%4 == 0 {
					// Paid four days ago, inside the 5-day asset window: the 20-business-minute response clock
					// breached long ago (always, but in the week-long holidays), so the case owes 50%.
					o.PaidAt = time.Now().Add(-96 * time.Hour)
				}
				if n%4 == 1 || n%8 == 0 {
					// A quarter of the cases give the customer's DingTalk group, half of them owing a refund.
					o.DingTalk = "rel-robot-" + strings.ToLower(o.OrderID)
					b.ding.AddRobot(o.DingTalk, RobotSecret(o.DingTalk))
				}
				b.mu.Lock()
				b.orders = append(b.orders, o)
				b.mu.Unlock()
				cctx, cancel := context.WithTimeout(ctx, b.plan.CaseTimeout)
				_, err := b.bots.RunSOS(cctx, o)
				cancel()
				if err != nil {
					b.logEvent("bot gave up: %v", err)
					b.mu.Lock()
					b.failed = append(b.failed, err.Error())
					b.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	<-chaosDone
	st := phaseStats{Name: name, Cases: int(started.Load()), Duration: time.Since(start)}
	b.logEvent("phase %s done: %d cases in %s", name, st.Cases, st.Duration.Round(100*time.Millisecond))
	return st
}

// chaos SIGKILLs one of procs n times at random moments, each time one at random (each at least once when n
// allows), and starts it again after a random pause; with ready, it waits until that API answers /readyz.
// With midDelivery, every second kill lands at the worst moment for notifications: Slack has taken a message
// and the worker has not heard back, so the outbox cannot know whether it was delivered. With several workers
// the one posting is not known, so such a kill takes them all.
func (b *battery) chaos(ctx context.Context, procs []*Proc, n int, ready bool, midDelivery bool) {
	order := make([]int, 0, n)
	for len(order) < n {
		perm, _ := rand.Int(rand.Reader, big.NewInt(int64(len(procs))))
		start := int(perm.Int64())
		for j := range procs {
			order = append(order, (start+j)%len(procs))
		}
	}
	for i := 1; i <= n && ctx.Err() == nil; i++ {
		time.Sleep(randBetween(b.plan.KillGap))
		victims := []*Proc{procs[order[i-1]]}
		moment := "at a random moment"
		if midDelivery && i%2 == 0 {
			victims = procs
			killed := make(chan struct{})
			b.slack.OnNextDelivery(func() {
				for _, p := range victims {
					p.Kill()
				}
				close(killed)
			})
			select {
			case <-killed:
				moment = "while Slack was answering a post"
				b.midDeliveryKills.Add(1)
			case <-time.After(10 * time.Second):
				b.slack.OnNextDelivery(nil)
				for _, p := range victims {
					p.Kill()
				}
				moment = "at a random moment (no post within 10 s)"
			}
		} else {
			victims[0].Kill()
		}
		down := randBetween(b.plan.Down)
		names := make([]string, len(victims))
		for j, p := range victims {
			names[j] = p.Name
		}
		b.logEvent("SIGKILL %s (%d of %d) %s, down %s", strings.Join(names, " and "), i, n, moment, down.Round(time.Millisecond))
		time.Sleep(down)
		for _, p := range victims {
			if err := p.Start(); err != nil {
				b.t.Errorf("restart %s: %v", p.Name, err)
				return
			}
		}
		if ready {
			p := victims[0]
			url := b.apiURLs[slices.Index(b.apis, p)]
			t0 := time.Now()
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := WaitFor(rctx, func(ctx context.Context) error { return APIReady(ctx, url) }); err != nil {
				b.t.Errorf("%s not ready after restart: %v", p.Name, err)
			}
			cancel()
			b.logEvent("%s ready %s after restart", p.Name, time.Since(t0).Round(time.Millisecond))
		}
	}
}

// outages restarts the Temporal server, then PostgreSQL (when the battery runs on it), then takes Slack down
// and rate-limits it, one after the other while the bots work.
func (b *battery) outages(ctx context.Context) {
	// The server goes down at killAt; the timer cases' asset windows fall due while it is down.
	killAt := time.Now().Add(4 * time.Second)
	b.timerCases(ctx, killAt)
	time.Sleep(time.Until(killAt))
	b.temporal.Kill()
	b.timers.DownAt = time.Now()
	b.logEvent("SIGKILL temporal server, down %s", b.plan.TemporalDown)
	time.Sleep(b.plan.TemporalDown)
	if err := b.temporal.Start(); err != nil {
		b.t.Errorf("restart temporal: %v", err)
		return
	}
	t0 := time.Now()
	b.timers.UpAt = t0
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := WaitFor(rctx, func(ctx context.Context) error {
		_, err := b.tc.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
	cancel()
	if err != nil {
		b.t.Errorf("temporal not back: %v", err)
	}
	b.timers.ServingAt = time.Now()
	b.logEvent("temporal server serving again %s after restart", time.Since(t0).Round(time.Millisecond))

	time.Sleep(2 * time.Second)
	if cmd := b.pgRestart(); cmd != "" {
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, "sh", "-c", cmd).CombinedOutput()
		if err != nil {
			b.t.Errorf("%s: %v\n%s", cmd, err, out)
		}
		b.logEvent("PostgreSQL restarted (%s) in %s", cmd, time.Since(t0).Round(time.Millisecond))
	} else {
		b.logEvent("PostgreSQL restart skipped (SQLite run, or no %s and no pg_ctlcluster)", EnvPGRestart)
	}

	time.Sleep(2 * time.Second)
	// Each fault lasts its planned time, and longer until a post meets it: the cases notify only now and then
	// (an offer, a report), and after the restarts above the first posts can take a while, so a fixed window
	// can fall between two posts. The wait is bounded by a case's timeout: the bots keep buying cases through
	// the phase, so a post not arriving by then means a stalled stack, which the bots' failures report.
	refused := func(fault string, f func(SlackStats) int) {
		before, t0 := f(b.slack.Stats()), time.Now()
		time.Sleep(b.plan.SlackOutage)
		for f(b.slack.Stats()) == before && time.Since(t0) < b.plan.CaseTimeout && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		if met := f(b.slack.Stats()) - before; met > 0 {
			b.logEvent("Slack %s met %d posts in %s", fault, met, time.Since(t0).Round(100*time.Millisecond))
		} else {
			b.t.Errorf("Slack %s for %s and no post met it", fault, time.Since(t0).Round(time.Second))
		}
	}
	b.slack.SetMode(SlackDown)
	b.logEvent("Slack answers 500 for %s or until a post meets it", b.plan.SlackOutage)
	refused("answered 500", func(s SlackStats) int { return s.Served500 })
	b.slack.SetMode(SlackRateLimited)
	b.logEvent("Slack answers 429 (Retry-After %s) for %s or until a post meets it", b.slack.RetryAfter, b.plan.SlackOutage)
	refused("answered 429", func(s SlackStats) int { return s.Served429 })
	b.slack.SetMode(SlackOK)
	b.logEvent("Slack healthy again")
}

func (b *battery) pgRestart() string {
	if !b.pg {
		return ""
	}
	if cmd := os.Getenv(EnvPGRestart); cmd != "" {
		return cmd
	}
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		return ""
	}
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) != 1 {
		return ""
	}
	return "pg_ctlcluster --skip-systemctl-redirect " + versions[0].Name() + " main restart"
}
