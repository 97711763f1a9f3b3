package reliability

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// report is the battery's outcome.
type report struct {
	Plan          plan
	Crash, Outage phaseStats
	Events        []string
	Database      string
	Topology      string

	Cases, Closed, Lost, WrongState, DoubledEvents int
	Refunds, DoubledRefunds                        int
	RefundExpected, RefundActual                   int64
	Notifications, NotSent                         int
	SlackDelivered, SlackMissing, SlackDoubled     int
	SlackUnexpected                                int
	Slack                                          SlackStats
	Steps, Calls, Transport, Status5xx             int64
	WorkerKills, APIKills, TemporalKills           int
	Webhooks                                       webhookStats
	Timers                                         timerStats
	Customer                                       customerStats
}

// verify waits for every case's workflow to end and checks the case, its timeline, refunds and
// notifications against what the bots did.
func (b *battery) verify(ctx context.Context) report {
	t := b.t
	rep := report{Database: map[bool]string{true: "PostgreSQL", false: "SQLite"}[b.pg], Topology: b.topologyText()}
	for _, p := range b.workers {
		_, k := p.Counts()
		rep.WorkerKills += k
	}
	for _, p := range b.apis {
		_, k := p.Counts()
		rep.APIKills += k
	}
	_, rep.TemporalKills = b.temporal.Counts()
	rep.Steps, rep.Calls = b.bots.Steps.Load(), b.bots.Calls.Load()
	rep.Transport, rep.Status5xx = b.bots.Transport.Load(), b.bots.Status5xx.Load()

	b.mu.Lock()
	orders := append([]SOSOrder(nil), b.orders...)
	b.mu.Unlock()
	rep.Cases = len(orders)
	deadline := time.Now().Add(5 * time.Minute)
	for _, o := range orders {
		caseID := workflows.CaseWorkflowID(workflows.ServiceSOS, o.OrderID)
		late := o.PaidAt.Before(time.Now().Add(-24 * time.Hour))
		var res sos.Result
		// Each case gets at least 30 s, so one stuck case can't make the rest look lost.
		wctx, cancel := context.WithDeadline(ctx, later(deadline, time.Now().Add(30*time.Second)))
		err := b.tc.GetWorkflow(wctx, caseID, "").Get(wctx, &res)
		cancel()
		if err != nil {
			rep.Lost++
			t.Logf("lost %s: %v", caseID, err)
			continue
		}
		wantPercent, wantRefunds := 0, 0
		if late {
			wantPercent, wantRefunds = 50, 1
			rep.RefundExpected += o.AmountCents / 2
		}
		row, err := b.store.GetCase(ctx, caseID)
		if err != nil || res.Stage != workflows.StageClosed || res.Refund.Percent != wantPercent || row.Status != db.CaseClosed || row.RefundPercent != wantPercent {
			rep.WrongState++
			t.Logf("%s: stage %s refund %d%% projection %+v (%v); want closed, %d%%", caseID, res.Stage, res.Refund.Percent, row, err, wantPercent)
			continue
		}
		rep.Closed++
		refunds, err := b.store.ListRefunds(ctx, caseID)
		require.NoError(t, err)
		rep.Refunds += len(refunds)
		if len(refunds) > wantRefunds {
			rep.DoubledRefunds += len(refunds) - wantRefunds
		}
		for _, r := range refunds {
			rep.RefundActual += r.AmountCents
		}
		events, err := b.store.ListEvents(ctx, caseID)
		require.NoError(t, err)
		count := map[string]int{}
		for _, e := range events {
			count[e.Event]++
		}
		for _, want := range SOSEvents() {
			switch n := count[want]; {
			case n > 1:
				rep.DoubledEvents += n - 1
				t.Logf("%s: %d %q events", caseID, n, want)
			case n == 0:
				rep.WrongState++
				t.Logf("%s: no %q event", caseID, want)
			}
		}
	}

	rep.Timers = b.verifyTimers(ctx)

	// The notifications leave from the outbox after their cases: a Slack outage leaves some to retry at
	// their backoff (at most five minutes apart), so the outbox gets until then to drain.
	drain := later(deadline, time.Now().Add(6*time.Minute))
	for time.Now().Before(drain) {
		pending, err := b.store.ListNotifications(ctx, db.NotificationPending, 0)
		require.NoError(t, err)
		if len(pending) == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	notes, err := b.store.ListNotifications(ctx, "", 0)
	require.NoError(t, err)
	rep.Notifications = len(notes)
	rep.Slack = b.slack.Stats()
	expected := map[string]bool{}
	for _, n := range notes {
		if n.Status != db.NotificationSent {
			rep.NotSent++
			t.Logf("notification %s is %s: %s", n.Key, n.Status, n.LastError)
		}
		channels := []string{"#ops"}
		if n.Channel != "" && n.Channel != "#ops" {
			channels = append(channels, n.Channel)
		}
		for _, ch := range channels {
			k := n.Key + "\x00" + ch
			expected[k] = true
			switch d := rep.Slack.Delivered[k]; {
			case d == 0:
				rep.SlackMissing++
				t.Logf("notification %s never reached %s", n.Key, ch)
			case d > 1:
				rep.SlackDoubled += d - 1
				t.Logf("notification %s reached %s %d times", n.Key, ch, d)
			}
		}
	}
	for k, d := range rep.Slack.Delivered {
		rep.SlackDelivered += d
		if !expected[k] {
			rep.SlackUnexpected += d
		}
	}
	return rep
}

// topologyText describes what the battery runs against, for the report.
func (b *battery) topologyText() string {
	if b.topology == TopologyCluster {
		return fmt.Sprintf("cluster — the official temporal-server (%s, deploy/temporal/config.yaml) on PostgreSQL for persistence and SQL visibility, %d `steward worker`s and %d `steward api`s; the bots spread their calls over the APIs",
			serverVersion(), len(b.workers), len(b.apis))
	}
	return "embedded — `steward temporal` (the embedded server on SQLite), one `steward worker`, one `steward api`"
}

// serverVersion is go.mod's go.temporal.io/server version.
func serverVersion() string {
	root, err := RepoRoot()
	if err != nil {
		return "go.temporal.io/server"
	}
	b, _ := os.ReadFile(root + "/go.mod")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "go.temporal.io/server" {
			return f[1]
		}
	}
	return "go.temporal.io/server"
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (r report) markdown() string {
	var s strings.Builder
	p := r.Plan
	fmt.Fprintf(&s, "Run: `%s` mode, %s, %d bots, %s, %d CPUs, %s.\n", p.Mode, time.Now().UTC().Format("2006-01-02"), p.Bots, r.Database, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&s, "Topology: %s.\n\n", r.Topology)
	fmt.Fprintf(&s, "| figure | value |\n|---|---|\n")
	row := func(name string, v any) { fmt.Fprintf(&s, "| %s | %v |\n", name, v) }
	row("crash phase: cases / duration", fmt.Sprintf("%d / %s", r.Crash.Cases, r.Crash.Duration.Round(time.Second)))
	row("outage phase: cases / duration", fmt.Sprintf("%d / %s", r.Outage.Cases, r.Outage.Duration.Round(time.Second)))
	row("SIGKILLs: worker / API / Temporal server", fmt.Sprintf("%d / %d / %d", r.WorkerKills, r.APIKills, r.TemporalKills))
	tm := r.Timers
	row("Temporal server down (SIGKILL to answering again)", tm.ServingAt.Sub(tm.DownAt).Round(100*time.Millisecond))
	row("timers due while it was down / fired after it returned / early", fmt.Sprintf("%d / %d / %d", tm.Due, tm.FiredAfter, tm.Early))
	row("timer cases not expired / doubled", fmt.Sprintf("%d / %d", tm.NotExpired, tm.Doubled))
	row("last of them fired, after the server answered again", tm.MaxLateness.Round(10*time.Millisecond))
	row("cases closed as expected", fmt.Sprintf("%d of %d", r.Closed, r.Cases))
	row("lost cases", r.Lost)
	row("cases in a wrong state", r.WrongState)
	row("steps answered (HTTP calls incl. retries)", fmt.Sprintf("%d (%d)", r.Steps, r.Calls))
	row("bot retries: transport errors / 5xx", fmt.Sprintf("%d / %d", r.Transport, r.Status5xx))
	row("doubled timeline rows", r.DoubledEvents)
	row("refund rows / doubled", fmt.Sprintf("%d / %d", r.Refunds, r.DoubledRefunds))
	row("refunds expected / recorded (cents)", fmt.Sprintf("%d / %d", r.RefundExpected, r.RefundActual))
	row("notifications in the outbox / not sent", fmt.Sprintf("%d / %d", r.Notifications, r.NotSent))
	row("Slack deliveries / missing / doubled / unexpected", fmt.Sprintf("%d / %d / %d / %d", r.SlackDelivered, r.SlackMissing, r.SlackDoubled, r.SlackUnexpected))
	row("interrupted deliveries looked up in channel history", r.Slack.Lookups)
	row("Slack 500s / 429s served", fmt.Sprintf("%d / %d", r.Slack.Served500, r.Slack.Served429))
	c := r.Customer
	row("cases with a customer DingTalk group / their messages recorded", fmt.Sprintf("%d / %d", c.Cases, c.Expected))
	row("customer messages delivered / missing / doubled / unexpected", fmt.Sprintf("%d / %d / %d / %d", c.Delivered, c.Missing, c.Doubled, c.Unexpected))
	row("customer deliveries re-claimed after a worker died (may repeat a message) / given up / pending", fmt.Sprintf("%d / %d / %d", c.Reclaimed, c.Failed, c.Pending))
	row("robot calls refused: signature / over the limit", fmt.Sprintf("%d / %d", c.BadSign, c.RateLimited))
	row("requests on a connection inside the Retry-After it was given (see below)", r.Slack.Early)
	row("requests within Retry-After of another request's 429 (informational)", r.Slack.Soon)
	row("longest wait from a 429 to the next delivery", r.Slack.MaxWait.Round(10*time.Millisecond))
	r.Webhooks.markdownRows(row)
	s.WriteString("\nWhat happened, in order:\n\n```\n")
	for _, e := range r.Events {
		s.WriteString(e + "\n")
	}
	s.WriteString("```\n")
	return s.String()
}

// writeReport puts text between the "<!-- name:begin -->" and "<!-- name:end -->" markers of path, keeping
// the rest of the file; a file without them gets them appended.
func writeReport(path, name, text string) error {
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
