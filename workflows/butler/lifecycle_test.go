package butler

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

// inspect sends the daily inspection of day at start+d.
func (h *harness) inspect(d time.Duration, day string) string {
	return h.partner(d, "p1", StepInspection, InspectionInput{Date: day, Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
}

// TestButlerInspectionMissed: a day whose inspection is not recorded by 10:00 China time on the next
// working day is alerted then, to operations and the partner, with one timeline line per check, and no
// refund; a day recorded before its check is not; Friday's, Saturday's and Sunday's are checked on
// Monday, National Day's after it, and the make-up Saturday is a working day.
func TestButlerInspectionMissed(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10) // a Monday; the plan is agreed at 10:50, so 03-03 is the first day owed
	h := newHarness(t, paid, "p1")
	h.onboard()
	at := func(y int, m time.Month, d, hh, mm int) time.Duration {
		return casetest.CST(y, m, d, hh).Add(time.Duration(mm) * time.Minute).Sub(paid)
	}
	ids := []string{
		h.inspect(at(2026, 3, 3, 18, 0), "2026-03-03"),
		h.inspect(at(2026, 3, 5, 9, 59), "2026-03-04"),  // before its check at 03-05 10:00: in time
		h.inspect(at(2026, 3, 6, 10, 30), "2026-03-05"), // after its check at 03-06 10:00: alerted, recorded late
		h.inspect(at(2026, 3, 8, 20, 0), "2026-03-06"),
		h.inspect(at(2026, 3, 8, 20, 1), "2026-03-07"), // Sunday 03-08 is never inspected
	}
	h.termReport(sla.ButlerTermEnd(sla.EditionEnterprise, paid).Sub(paid) - sla.Day)
	res := h.run(input(sla.EditionEnterprise, paid))
	h.RequireOK(ids...)

	missed := h.EventsNamed(workflows.EventInspectionMissed)
	require.NotEmpty(t, missed)
	alert := func(day string) activities.Event {
		t.Helper()
		for _, e := range missed {
			if days, _, _ := strings.Cut(e.Detail, " by "); strings.Contains(days, day) {
				return e
			}
		}
		t.Fatalf("no alert names %s", day)
		return activities.Event{}
	}
	first, second := missed[0], missed[1]
	assert.True(t, first.At.Equal(casetest.CST(2026, 3, 6, 10)), "first alert at %v", first.At.In(sla.China))
	assert.Equal(t, "no daily inspection recorded for 2026-03-05 by 2026-03-06 10:00 CST (1 day missed this term)", first.Detail)
	assert.Equal(t, workflows.ActorSystem, first.Actor)
	assert.True(t, second.At.Equal(casetest.CST(2026, 3, 9, 10)), "second alert at %v", second.At.In(sla.China))
	assert.Contains(t, second.Detail, "for 2026-03-08 by 2026-03-09 10:00 CST")
	assert.NotContains(t, second.Detail, "2026-03-06")
	assert.True(t, missed[2].At.Equal(casetest.CST(2026, 3, 10, 10)))
	for _, e := range missed {
		assert.NotContains(t, e.Detail, "2026-03-04", "recorded before its check")
	}
	// National Day (10-01..10-07): 09-30 to 10-07 are checked together on 10-08; 10-09, a Friday, on the
	// make-up Saturday 10-10.
	nd := alert("2026-09-30")
	assert.True(t, nd.At.Equal(casetest.CST(2026, 10, 8, 10)), "National Day alert at %v", nd.At.In(sla.China))
	assert.Contains(t, nd.Detail, "2026-10-07")
	assert.True(t, alert("2026-10-09").At.Equal(casetest.CST(2026, 10, 10, 10)))

	// One alert per check, to operations and the partner, and never a refund: the contract names none.
	notes := 0
	for _, n := range h.Notes() {
		if n.Message.Title == label+" daily inspection missing" {
			notes++
			assert.Equal(t, "p1", n.PartnerID)
		}
	}
	assert.Equal(t, len(missed), notes)
	assert.Empty(t, h.Refunds())
	assert.Equal(t, workflows.Refund{}, res.State.Core.Refund)
	assert.Equal(t, "2026-03-05", res.State.MissedInspections[0])
	assert.Equal(t, "2027-03-01", res.State.InspectionsChecked, "the last full day of the term")
	assert.Equal(t, "2027-03-01", res.State.MissedInspections[len(res.State.MissedInspections)-1])
	assert.NotContains(t, res.State.MissedInspections, "2026-03-06")
	// A year of missed inspections stays within the history limit: the case continues as new.
	for i, r := range h.meter.snapshot() {
		assert.Less(t, r.events, workflows.DefaultHistoryLimit+200, "run %d", i+1)
	}
}

// TestButlerTermReport: a yearly edition's partner owes a term report. Delivered in the term's last 30
// days, the case closes at the term's end; after the term, when it is delivered; without it, 5 working
// days after the term, operations and the partner alerted. The emergency edition owes none.
func TestButlerTermReport(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	end := sla.ButlerTermEnd(sla.EditionProfessional, paid)
	term := end.Sub(paid)
	t.Run("met in the term's last days", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.market(2*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com"}})
		early := h.termReport(term - 31*sla.Day)
		ok := h.termReport(term - 10*sla.Day)
		again := h.termReport(term - 9*sla.Day)
		res := h.run(input(sla.EditionProfessional, paid))
		h.RequireOK(ok)
		assert.ErrorContains(t, h.Results[early], "the term report is taken from 2027-01-31 10:00 CST, the last 30 days of the term")
		assert.ErrorContains(t, h.Results[again], "the term report was submitted (service report 1)")
		assert.True(t, h.Env.Now().Equal(end), "closed at %v", h.Env.Now().In(sla.China))
		assert.Equal(t, 1, res.State.TermReport)
		assert.Nil(t, res.State.TermReportDue)
		ended := h.EventsNamed(workflows.EventTermEnded)
		require.Len(t, ended, 1)
		assert.Equal(t, "term ended on 2027-03-02; the term report (service report 1) was submitted", ended[0].Detail)
		assert.Empty(t, h.EventsNamed(workflows.EventTermReportMissed))
		sub := h.EventsNamed(workflows.EventReportSubmitted)
		require.Len(t, sub, 1)
		assert.Equal(t, "term report (service report 1) for the term 2026-03-02 至 2027-03-02: a quiet year", sub[0].Detail)
		require.NotNil(t, sub[0].Customer)
		assert.Equal(t, string(workflows.NoticeTermReport), sub[0].Customer.Kind)
		require.Len(t, h.Docs(), 1)
		doc := h.Docs()[0]
		assert.Equal(t, termReportTitle, doc.Title)
		assert.Equal(t, activities.KindServiceReport, doc.Kind)
		assert.Contains(t, doc.Meta, activities.DocField{Label: "周期 Period", Value: "2026-03-02 至 2027-03-02"})
		assert.True(t, slices.ContainsFunc(doc.Sections, func(s activities.DocSection) bool { return s.Heading == "服务期统计 The term in figures" }))
		require.Len(t, h.Emails(), 1, "the professional edition e-mails it")
		assert.Contains(t, h.Emails()[0].Subject, termReportTitle)
	})
	t.Run("met after the term", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		monthly := h.partner(term+sla.Day, "p1", workflows.StepReport, ReportInput{Period: "2027-02", Summary: "late month"})
		ask := h.ask(term+sla.Day+time.Minute, RequestStepInput{Kind: sla.RequestConsulting, Summary: "x"})
		lastDay := h.inspect(term+2*time.Hour, "2027-03-01") // the term's last day, recorded late: taken
		afterTerm := h.inspect(term+3*time.Hour, "2027-03-02")
		ok := h.termReport(term + 2*sla.Day)
		var during workflows.CaseView
		h.At(term+time.Hour, func() {
			v, err := h.Env.QueryWorkflowByID(caseID, workflows.QueryCaseView)
			require.NoError(t, err)
			require.NoError(t, v.Get(&during))
		})
		res := h.run(input(sla.EditionEnterprise, paid))
		h.RequireOK(ok, lastDay)
		assert.ErrorContains(t, h.Results[afterTerm], "date: 2027-03-02 is after the term")
		assert.ErrorContains(t, h.Results[monthly], "the term ended on 2027-03-02; only the term report (report, kind term) is taken now")
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[ask]))
		assert.Equal(t, StageTermReport, during.Stage)
		assert.Equal(t, workflows.StatusOpen, during.Status)
		due := termReportDue(t, sla.EditionEnterprise, paid)
		require.NotNil(t, res.State.TermReportDue)
		assert.True(t, res.State.TermReportDue.Equal(due))
		assert.True(t, h.Env.Now().Equal(end.Add(2*sla.Day)), "closed at %v", h.Env.Now().In(sla.China))
		assert.Equal(t, workflows.StageClosed, res.Stage)
		ended := h.EventsNamed(workflows.EventTermEnded)
		require.Len(t, ended, 1)
		assert.Contains(t, ended[0].Detail, "the partner's term report is due by "+workflows.When(due)+" (5 working days)")
		closed := h.EventsNamed(workflows.EventCaseClosed)
		require.Len(t, closed, 1)
		assert.Contains(t, closed[0].Detail, "the term report came 2 d after the term ended on 2027-03-02")
		assert.Empty(t, h.EventsNamed(workflows.EventTermReportMissed))
		// While it waits, the next deadline is the report's.
		waiting := false
		for _, r := range h.Rows() {
			if r.Stage == StageTermReport && r.NextDeadline != nil && r.NextDeadline.Equal(due) {
				waiting = true
			}
		}
		assert.True(t, waiting, "a row in stage term_report with the report's deadline")
	})
	t.Run("missed", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		res := h.run(input(sla.EditionEscort, paid))
		due := termReportDue(t, sla.EditionEscort, paid)
		assert.True(t, h.Env.Now().Equal(due), "closed at %v; due %v", h.Env.Now().In(sla.China), due.In(sla.China))
		assert.Equal(t, workflows.StageClosed, res.Stage)
		missed := h.EventsNamed(workflows.EventTermReportMissed)
		require.Len(t, missed, 1)
		assert.Equal(t, "no term report 5 working days after the term ended on 2027-03-02 (due "+workflows.When(due)+"); operations and partner p1 alerted",
			missed[0].Detail)
		assert.Len(t, h.EventsNamed(workflows.EventCaseExpired), 1)
		assert.Empty(t, h.EventsNamed(workflows.EventCaseClosed))
		assert.Equal(t, 1, h.CountNotes(label+" term report missing"))
		for _, n := range h.Notes() {
			if n.Message.Title == label+" term report missing" {
				assert.Equal(t, "p1", n.PartnerID, "the partner is alerted too")
			}
		}
		assert.Empty(t, h.Refunds())
	})
	t.Run("emergency: none owed", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		refused := h.termReport(10 * sla.Day)
		h.run(input(sla.EditionEmergency, paid))
		assert.ErrorContains(t, h.Results[refused], "the emergency edition has no term report")
		assert.True(t, h.Env.Now().Equal(sla.ButlerTermEnd(sla.EditionEmergency, paid)))
		assert.Empty(t, h.EventsNamed(workflows.EventTermReportMissed))
		assert.Empty(t, h.EventsNamed(workflows.EventInspectionMissed), "no daily inspections in the emergency edition")
	})
}

// test2027 is a 2027 schedule made up for the test (the State Council had not published 2027's when it
// was written): New Year's Day off from Friday to Sunday, Saturday 2027-01-30 a make-up working day.
const test2027 = "region: cn\nyear: 2027\noff:\n  - {name: 元旦 New Year, from: 2027-01-01, to: 2027-01-03}\nwork: [2027-01-30]\n"

// with2027 returns the built-in calendars with test2027 added, as a worker started with --holiday-files
// builds them, and restores the workflows' calendars after the test.
func with2027(t *testing.T) *sla.Calendars {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cn-2027.yaml")
	require.NoError(t, os.WriteFile(p, []byte(test2027), 0o600))
	cs, err := sla.NewCalendars(sla.Config{HolidayFiles: []string{p}})
	require.NoError(t, err)
	orig := workflows.Calendars()
	t.Cleanup(func() { workflows.SetCalendars(orig) })
	return cs
}

// TestButlerReplanOnNewYear: an order paid on Thursday 2026-12-31 17:00 is due for first contact within 1
// working day. Without 2027's holiday data Friday 2027-01-01 counts as a working day: due 2027-01-01 17:00.
// A worker then gets 2027's schedule (New Year's Day off to Sunday), and the clock is re-planned from its
// start, once, to Monday 2027-01-04 17:00 — at once when the worker signals the case, or at the clock
// watch's next wake-up otherwise — with a timeline line, and the case's SlaReplan search attribute says
// so. A clock already breached on the old plan keeps its breach.
func TestButlerReplanOnNewYear(t *testing.T) {
	paid := casetest.CST(2026, 12, 31, 17)
	oldDue, newDue := casetest.CST(2027, 1, 1, 17), casetest.CST(2027, 1, 4, 17)
	tests := []struct {
		name    string
		loadAt  time.Duration // when the worker gets 2027's data
		signal  bool          // and signals the case
		replan  time.Time     // when the clock is re-planned
		kept    bool          // breached on the old plan before
		contact time.Duration // Saturday 2027-01-02 10:00
	}{
		{"signalled at the worker's start", 3 * time.Hour, true, paid.Add(3 * time.Hour), false, 41 * time.Hour},
		// The watch's next wake-up is the old plan's 50% warning, 2027-01-01 12:00: it re-plans first and
		// warns of nothing (on the new plan only 1 of 8 hours has passed).
		{"at the watch's next wake-up", 3 * time.Hour, false, casetest.CST(2027, 1, 1, 12), false, 41 * time.Hour},
		{"breached before the data came", 25 * time.Hour, true, paid.Add(25 * time.Hour), true, 41 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := with2027(t)
			h := newHarness(t, paid, "p1")
			h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
			contact := h.partner(tt.contact, "p1", workflows.StepContact, ContactInput{Note: "DingTalk group opened"})
			h.partner(tt.contact+time.Hour, "p1", workflows.StepPlan, PlanInput{Summary: "plan", Items: []string{"a"}})
			var before workflows.CaseView
			h.At(time.Hour, func() {
				v, err := h.Env.QueryWorkflowByID(caseID, workflows.QueryCaseView)
				require.NoError(t, err)
				require.NoError(t, v.Get(&before))
			})
			h.At(tt.loadAt, func() {
				workflows.SetCalendars(cs)
				if tt.signal {
					require.NoError(t, h.Env.SignalWorkflowByID(caseID, workflows.SignalCalendarUpdated, workflows.CalendarUpdate{Versions: cs.HolidayVersions()}))
				}
			})
			// A second signal, after the re-plan, finds nothing left to re-plan: once.
			h.At(tt.replan.Sub(paid)+time.Hour, func() {
				require.NoError(t, h.Env.SignalWorkflowByID(caseID, workflows.SignalCalendarUpdated, workflows.CalendarUpdate{}))
			})
			h.termReport(sla.ButlerTermEnd(sla.EditionEnterprise, paid).Sub(paid) - sla.Day)
			res := h.run(input(sla.EditionEnterprise, paid))
			h.RequireOK(contact)

			e := casetest.SLAEntry(t, before.SLA, sla.ClauseOnboardingContact)
			require.NotNil(t, e.DueAt)
			assert.True(t, e.DueAt.Equal(oldDue), "planned without 2027's data: due %v", e.DueAt.In(sla.China))

			replanned := h.EventsNamed(workflows.EventSLAReplanned)
			require.Len(t, replanned, 1, "re-planned once")
			assert.True(t, replanned[0].At.Equal(tt.replan), "re-planned at %v", replanned[0].At.In(sla.China))
			c, _ := cs.Get(sla.Calendar5x8)
			version := c.HolidayVersion(2027)
			require.NotEmpty(t, version)
			clock := res.State.Core.Clocks.Clocks[0]
			if tt.kept {
				assert.Equal(t, "onboarding_contact clock planned without 2027's holiday data (weekends only) was breached at 2027-01-01 17:00 CST on that plan; with "+
					version+" it would be due 2027-01-04 17:00 CST: the breach and any refund stand (a manager may waive the refund)", replanned[0].Detail)
				assert.True(t, clock.DueAt().Equal(oldDue))
				assert.Equal(t, sla.StatusBreached, clock.Status(h.Env.Now()))
				assert.Len(t, h.EventsNamed(workflows.EventSLABreached), 1)
			} else {
				assert.Equal(t, "onboarding_contact clock planned without 2027's holiday data (weekends only); re-planned from 2026-12-31 17:00 CST with "+
					version+": due 2027-01-04 17:00 CST (was 2027-01-01 17:00 CST)", replanned[0].Detail)
				assert.True(t, clock.DueAt().Equal(newDue), "due %v", clock.DueAt().In(sla.China))
				assert.Equal(t, sla.StatusMet, clock.Status(h.Env.Now()), "contacted on Saturday 2027-01-02: in time on the new plan")
				assert.Empty(t, h.EventsNamed(workflows.EventSLABreached))
				assert.Empty(t, h.EventsNamed(workflows.EventSLAAtRisk), "never warned on the old plan")
			}
			assert.Nil(t, clock.PlannedWithout)
			assert.Equal(t, []int{2027}, res.State.Core.Clocks.Replanned)
			assert.Equal(t, 1, h.CountNotes(label+" onboarding_contact clock re-planned on 2027's holiday data"))

			// Managers find the case by SlaReplan: awaiting 2027's data first, then re-planned on it.
			upserts := h.meter.replanUpserts()
			require.NotEmpty(t, upserts)
			assert.Equal(t, []string{workflows.ReplanAwaiting(2027)}, upserts[0])
			assert.Equal(t, []string{workflows.ReplanDone(2027)}, upserts[len(upserts)-1])
			assert.True(t, slices.ContainsFunc(upserts, func(v []string) bool { return slices.Equal(v, []string{"replanned:2027"}) }))
		})
	}
}
