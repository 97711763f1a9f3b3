package reliability

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// timerStats is what became of the timers that fell due while the Temporal server was down: SOS cases bought
// just before the SIGKILL, with paid_at chosen so that their 5-day asset window closes during the outage.
// Each must expire once after the server is back (a case_expired line recorded after the restart, never before
// the window closed), with its notification and at most one refund row.
type timerStats struct {
	DownAt, UpAt, ServingAt time.Time // SIGKILL; restarted; answering again

	Due         int           // timers due while the server was down
	FiredAfter  int           // of them, recorded after the server was restarted
	Early       int           // recorded before they were due
	NotExpired  int           // cases that did not end expired
	Doubled     int           // cases with more than one case_expired line or refund row
	MaxLateness time.Duration // from the server answering again to the last expiry recorded

	orders []SOSOrder
	dues   []time.Time
}

// timerCases buys the plan's timer cases, due from one second after killAt to the planned end of the outage
// (the server comes back later than that: the restart follows the SIGKILL's own time), and waits until each
// is offered (its workflow has run, its timers are set).
func (b *battery) timerCases(ctx context.Context, killAt time.Time) {
	n := b.plan.TimerCases
	if n == 0 {
		return
	}
	span := b.plan.TemporalDown - 2*time.Second
	tm := &b.timers
	for i := range n {
		// Whole seconds, rounded up: rounded down, the first could fall before the SIGKILL has landed (DownAt)
		// and count as due before the outage while it fires after it.
		due := killAt.Add(2*time.Second - time.Nanosecond + time.Duration(i)*span/time.Duration(max(n-1, 1))).Truncate(time.Second)
		tm.orders = append(tm.orders, SOSOrder{OrderID: fmt.Sprintf("REL-TIMER-%04d", i+1), PaidAt: due.Add(-sla.AssetWindow), AmountCents: 500_000})
		tm.dues = append(tm.dues, due)
	}
	var wg sync.WaitGroup
	for _, o := range tm.orders {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, time.Until(killAt))
			defer cancel()
			caseID, err := b.bots.Purchase(cctx, o)
			for err == nil {
				row, gerr := b.store.GetCase(cctx, caseID)
				if gerr == nil && row.PartnerID != "" {
					return
				}
				select {
				case <-cctx.Done():
					err = cctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			b.logEvent("timer case %s not offered before the server went down (%v): its timer is set after the restart", o.OrderID, err)
		})
	}
	wg.Wait()
	b.logEvent("%d timer cases bought: asset windows due %s to %s, while the Temporal server is down", n,
		tm.dues[0].Format("15:04:05"), tm.dues[n-1].Format("15:04:05"))
}

// verifyTimers waits for the timer cases to end and checks when they expired.
func (b *battery) verifyTimers(ctx context.Context) timerStats {
	tm := b.timers
	for i, o := range tm.orders {
		caseID := workflows.CaseWorkflowID(workflows.ServiceSOS, o.OrderID)
		due := tm.dues[i]
		if due.After(tm.DownAt) && due.Before(tm.UpAt) {
			tm.Due++
		}
		var res sos.Result
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := b.tc.GetWorkflow(wctx, caseID, "").Get(wctx, &res)
		cancel()
		if err != nil || res.Stage != workflows.StageExpired {
			tm.NotExpired++
			b.t.Logf("timer case %s: stage %q (%v); want expired", caseID, res.Stage, err)
			continue
		}
		events, err := b.store.ListEvents(ctx, caseID)
		if err != nil {
			b.t.Errorf("timer case %s: %v", caseID, err)
			continue
		}
		expired := 0
		for _, e := range events {
			if e.Event != string(workflows.EventCaseExpired) {
				continue
			}
			expired++
			switch {
			case e.At.Before(due):
				tm.Early++
				b.t.Logf("timer case %s expired at %s, before its window closed at %s", caseID, e.At, due)
			case !e.At.Before(tm.UpAt):
				tm.FiredAfter++
				tm.MaxLateness = max(tm.MaxLateness, e.At.Sub(tm.ServingAt))
			default:
				b.t.Logf("timer case %s expired at %s, while the server was down (%s to %s)?", caseID, e.At, tm.DownAt, tm.UpAt)
			}
		}
		refunds, err := b.store.ListRefunds(ctx, caseID)
		if err != nil {
			b.t.Errorf("timer case %s: %v", caseID, err)
		}
		if expired != 1 || len(refunds) > 1 {
			tm.Doubled++
			b.t.Logf("timer case %s: %d case_expired lines, %d refund rows", caseID, expired, len(refunds))
		}
	}
	return tm
}
