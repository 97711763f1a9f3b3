package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/engagement"
	"github.com/steward-oss/steward/workflows/escort"
)

// The tests in this file start cases whose order was paid long ago, so that a window or a term runs out a
// few seconds into the test: the timers that end them fire on a real server, and with
// STEWARD_RECORD_HISTORY=1 their histories are recorded for the replay test.

// timerLead is how far in the future a test places the instant a timer is due.
const timerLead = 3 * time.Second

// yearAgo is an instant a year before now plus d, by the calendar date in China (as terms count years).
func yearAgo(d time.Duration) time.Time {
	return time.Now().In(sla.China).AddDate(-1, 0, 0).Add(d).Truncate(time.Second).UTC()
}

// viewAs is the case view as token's holder sees it.
func (s *stack) viewAs(t *testing.T, path, token string) workflows.CaseView {
	t.Helper()
	var v workflows.CaseView
	require.EventuallyWithT(t, func(c *assert.CollectT) { v = s.view(c, path, token) }, 5*time.Second, 100*time.Millisecond)
	return v
}

// awaitEvent waits until the case's timeline has event.
func (s *stack) awaitEvent(t *testing.T, path string, event workflows.Event, within time.Duration) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, s.timeline(c, path), string(event))
	}, within, 200*time.Millisecond)
}

// TestSOSHistoryAssetWindowExpires: an SOS order paid five days ago, less a moment, gets no asset list:
// the window's timer fires and the case expires.
func TestSOSHistoryAssetWindowExpires(t *testing.T) {
	s := newStack(t)
	paid := time.Now().Add(-sla.AssetWindow + timerLead).Truncate(time.Second)
	caseID, path, run := s.startCase(t, caseStart{service: workflows.ServiceSOS, spec: "handling", orderID: "SOS-EXP", quantity: 1, paidAt: paid})
	s.awaitEvent(t, path, workflows.EventCaseExpired, timerLead+20*time.Second)
	v := s.viewAs(t, path, s.manager)
	assert.Equal(t, workflows.StageExpired, v.Stage)
	assert.Equal(t, workflows.StatusClosed, v.Status)
	recordHistory(t, s, caseID, run, "sos_asset_window_expired")
}

// TestDengbaoHistoryTermReminder: a 等保 order bought a year ago less 7 days: the 7-day reminder's timer
// fires (the 30-day reminder's day has long passed and is skipped).
func TestDengbaoHistoryTermReminder(t *testing.T) {
	s := newStack(t)
	caseID, path, run := s.startCase(t, caseStart{service: workflows.ServiceDengbao, orderID: "DB-REM", quantity: 3,
		paidAt: yearAgo(7*sla.Day + timerLead)})
	s.awaitEvent(t, path, workflows.EventTermReminder, timerLead+20*time.Second)
	events := s.timelineOf(t, path)
	n := 0
	for _, e := range events {
		if e == string(workflows.EventTermReminder) {
			n++
		}
	}
	assert.Equal(t, 1, n, "one reminder, 7 days before: %v", events)
	assert.Equal(t, workflows.StatusOpen, s.viewAs(t, path, s.manager).Status)
	recordHistory(t, s, caseID, run, "dengbao_term_reminder")
}

// TestDengbaoHistoryTermEnds: a 等保 order bought a year ago and never assessed: the term's timer fires
// and the case ends.
func TestDengbaoHistoryTermEnds(t *testing.T) {
	s := newStack(t)
	caseID, path, run := s.startCase(t, caseStart{service: workflows.ServiceDengbao, orderID: "DB-END", quantity: 3, paidAt: yearAgo(timerLead)})
	s.awaitEvent(t, path, workflows.EventTermEnded, timerLead+20*time.Second)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v := s.view(c, path, s.manager)
		assert.Equal(c, workflows.StageExpired, v.Stage)
		assert.Equal(c, workflows.StatusClosed, v.Status)
	}, 10*time.Second, 200*time.Millisecond)
	recordHistory(t, s, caseID, run, "dengbao_term_ended")
}

// TestHostingHistoryNextTerm: a hosting order bought a year ago and renewed: at the year's end its timer
// starts the next term with fresh quotas.
func TestHostingHistoryNextTerm(t *testing.T) {
	s := newStack(t)
	s.addServices(t, workflows.ServiceHosting, "p-alpha")
	caseID, path, run := s.startCase(t, caseStart{service: workflows.ServiceHosting, orderID: "HOST-NEXT", quantity: 1, paidAt: yearAgo(2 * timerLead)})
	s.marketCall(t, path+"/renew", map[string]any{"order_id": "HOST-NEXT-2"})
	s.awaitEvent(t, path, workflows.EventTermRenewed, 2*timerLead+20*time.Second)
	assert.Equal(t, 2, s.details(t, path)["term"])
	assert.Equal(t, workflows.StatusOpen, s.viewAs(t, path, s.manager).Status)
	recordHistory(t, s, caseID, run, "hosting_next_term")
}

// TestEngagementHistoryDeemedAccepted: a consulting deliverable without the customer's verdict within the
// verdict window (a few seconds here) is deemed accepted and the case closes.
func TestEngagementHistoryDeemedAccepted(t *testing.T) {
	s := newStack(t)
	s.addServices(t, workflows.ServiceConsulting, "p-alpha")
	caseID, path, run := s.startCase(t, caseStart{service: workflows.ServiceConsulting, orderID: "CON-DEEMED", quantity: 1,
		input: func(ci workflows.CaseInput) any { return engagement.Input{CaseInput: ci, VerdictWindow: timerLead} }})
	s.awaitOffer(t, path, "p-alpha")
	partner := s.partners["p-alpha"]
	s.partnerStep(t, path, partner, workflows.StepAccept, map[string]any{})
	s.partnerStep(t, path, partner, engagement.StepSchedule, map[string]any{"starts_on": chinaToday(0), "ends_on": chinaToday(0), "summary": "on site"})
	s.partnerStep(t, path, partner, engagement.StepDeliver, map[string]any{"summary": "workshop held"})
	s.partnerStep(t, path, partner, workflows.StepDeliverable, map[string]any{"title": "安全咨询报告", "summary": "ISMS gap analysis", "items": []string{"write the policy"}})
	s.awaitEvent(t, path, workflows.EventDeliveryDeemedAccepted, timerLead+20*time.Second)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, workflows.StatusClosed, s.view(c, path, s.manager).Status)
	}, 10*time.Second, 200*time.Millisecond)
	recordHistory(t, s, caseID, run, "engagement_deemed_accepted")
}

// TestEscortHistoryCheckinMissed: an escort planned for today whose check-in is due a few seconds from now
// (its CheckinBy set to this moment of the day): the check-in timer fires without a check-in, and
// operations and the partner are alerted.
func TestEscortHistoryCheckinMissed(t *testing.T) {
	now := time.Now().In(sla.China)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, sla.China)
	by := now.Add(timerLead).Sub(midnight).Truncate(time.Second) + time.Second
	if by >= sla.Day-time.Minute {
		t.Skip("too close to midnight in China for a check-in due today")
	}
	s := newStack(t)
	s.addServices(t, workflows.ServiceEscort, "p-alpha")
	caseID, path, run := s.startCase(t, caseStart{service: workflows.ServiceEscort, orderID: "ESC-MISS", quantity: 1,
		input: func(ci workflows.CaseInput) any { return escort.Input{CaseInput: ci, CheckinBy: by} }})
	s.awaitOffer(t, path, "p-alpha")
	partner := s.partners["p-alpha"]
	s.partnerStep(t, path, partner, workflows.StepAccept, map[string]any{})
	s.partnerStep(t, path, partner, workflows.StepPlan, map[string]any{"starts_on": chinaToday(0), "summary": "launch day cover", "items": []string{"WAF rules"}})
	s.awaitEvent(t, path, workflows.EventCheckinMissed, 2*timerLead+20*time.Second)
	assert.Equal(t, workflows.StatusOpen, s.viewAs(t, path, s.manager).Status)
	recordHistory(t, s, caseID, run, "escort_checkin_missed")
}
