// Package casetest runs a case lifecycle in the Temporal time-skipping test environment with recording
// activity mocks: what every lifecycle package's tests share. It is imported by tests only.
package casetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// Harness is one workflow run in the test environment. The activity mocks record what the case wrote
// (timeline lines, refunds, projections, the notifications recorded with them or sent by the Notify
// activity), asked of partner choice and rendered; read them with
// the accessors, which copy under the lock (mocks run on their own goroutines).
type Harness struct {
	T   *testing.T
	Env *testsuite.TestWorkflowEnvironment
	// Partners are the available partners, in order of preference; ChoosePartner offers the first one
	// not yet offered.
	Partners []string
	// Results holds each sent step's outcome by its ID (an error, or nil once it completed); Views the
	// case view a completed step answered with.
	Results map[string]error
	Views   map[string]workflows.CaseView

	mu      sync.Mutex
	mocked  bool
	choices []activities.ChoosePartnerInput
	events  []activities.Event
	refunds []activities.RefundRow
	rows    []activities.CaseRow
	clocks  []activities.ClockRow
	notes   []activities.NotifyInput
	reports []activities.ReportInput
	docs    []activities.Document
	emails  []activities.EmailInput
}

// New returns a harness whose clock starts at start, with the workflows regs registered by name.
func New(t *testing.T, start time.Time, partners []string, regs ...workflows.Registration) *Harness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &Harness{T: t, Env: ts.NewTestWorkflowEnvironment(), Partners: partners,
		Results: map[string]error{}, Views: map[string]workflows.CaseView{}}
	h.Env.SetStartTime(start)
	for _, r := range regs {
		h.Env.RegisterWorkflowWithOptions(r.Workflow, workflow.RegisterOptions{Name: r.Name})
	}
	var a *activities.Activities
	h.Env.RegisterActivity(a.Record)
	h.Env.RegisterActivity(a.Notify)
	h.Env.RegisterActivity(a.ChoosePartner)
	h.Env.RegisterActivity(a.RenderReport)
	h.Env.RegisterActivity(a.RenderDocument)
	h.Env.RegisterActivity(a.SendEmail)
	return h
}

// Mock registers the recording mocks, once. Execute calls it, so a test's own OnActivity registered
// before takes precedence; call it earlier only to run the environment some other way.
func (h *Harness) Mock() {
	if h.mocked {
		return
	}
	h.mocked = true
	var a *activities.Activities
	h.Env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(h.record)
	h.Env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NotifyInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notes = append(h.notes, in)
		return nil
	})
	h.Env.OnActivity(a.ChoosePartner, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChoosePartnerInput) (activities.ChoosePartnerResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.choices = append(h.choices, in)
		for _, p := range h.Partners { // under the lock: SetPartners may change them
			if !slices.Contains(in.Exclude, p) {
				return activities.ChoosePartnerResult{PartnerID: p, PartnerName: p, Capacity: 3}, nil
			}
		}
		return activities.ChoosePartnerResult{}, nil
	})
	h.Env.OnActivity(a.RenderReport, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReportInput) (activities.ReportRef, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.reports = append(h.reports, in)
		return activities.ReportRef{CaseID: in.CaseID, Version: in.Version}, nil
	})
	h.Env.OnActivity(a.RenderDocument, mock.Anything, mock.Anything).Return(func(_ context.Context, d activities.Document) (activities.ReportRef, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.docs = append(h.docs, d)
		return activities.ReportRef{CaseID: d.CaseID, Version: d.Version}, nil
	})
	h.Env.OnActivity(a.SendEmail, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EmailInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.emails = append(h.emails, in)
		return nil
	})
}

// record is the Record mock; a test wrapping Record (to slow or fail one call) can delegate to it.
func (h *Harness) record(_ context.Context, in activities.RecordInput) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, in.Events...)
	h.refunds = append(h.refunds, in.Refunds...)
	h.rows = append(h.rows, in.Case)
	h.clocks = append(h.clocks, in.Clocks...)
	h.notes = append(h.notes, in.Notices...) // a case's notifications leave with its records
	return nil
}

// Record is the recording Record mock, for a test's own OnActivity that delegates to it.
func (h *Harness) Record(ctx context.Context, in activities.RecordInput) error {
	return h.record(ctx, in)
}

// Execute runs workflow name with in until it ends or the environment stops it.
func (h *Harness) Execute(name string, in any) {
	h.Mock()
	h.Env.ExecuteWorkflow(name, in)
}

// Run executes workflow name with in, requires it to complete without error and decodes its result.
func (h *Harness) Run(name string, in, result any) {
	h.T.Helper()
	h.Execute(name, in)
	require.True(h.T, h.Env.IsWorkflowCompleted(), "workflow still running at %v", h.Env.Now())
	require.NoError(h.T, h.Env.GetWorkflowError())
	require.NoError(h.T, h.Env.GetWorkflowResult(result))
}

// RunUntil executes workflow name with in until start+d, when its run times out: a case takes a
// cancellation request as a step under its service's rule, so the harness ends it by the clock.
func (h *Harness) RunUntil(name string, in any, d time.Duration) {
	h.Env.SetWorkflowRunTimeout(d)
	h.Execute(name, in)
}

// At runs fn at start+d.
func (h *Harness) At(d time.Duration, fn func()) { h.Env.RegisterDelayedCallback(fn, d) }

// Send sends a step at start+d, as the Workflow Update named for it, under the update ID id; its outcome
// lands in Results[id].
func (h *Harness) Send(d time.Duration, id string, in workflows.StepInput) {
	h.At(d, func() {
		in.At = h.Env.Now()
		h.Env.UpdateWorkflow(in.Step, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.Results[id] = err },
			OnComplete: func(v any, err error) {
				h.Results[id] = err
				if cv, ok := v.(workflows.CaseView); ok {
					h.Views[id] = cv
				}
			},
		}, in)
	})
	h.Results[id] = errors.New("not sent")
}

// Partner sends partner's step at start+d, under the ID "step@d".
func (h *Harness) Partner(d time.Duration, partner, step string, payload any) {
	h.Send(d, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: partner, ActorName: "eng", Payload: MustJSON(payload)})
}

// Market sends the marketplace's step at start+d, under the ID "step@d".
func (h *Harness) Market(d time.Duration, step string, payload any) {
	h.Send(d, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorMarketplace, Payload: MustJSON(payload)})
}

// Result is the outcome of the step sent as step at d by Partner or Market.
func (h *Harness) Result(step string, d time.Duration) error { return h.Results[step+"@"+d.String()] }

// Events are the timeline lines recorded so far.
func (h *Harness) Events() []activities.Event { return locked(h, &h.events) }

// EventNames are the recorded timeline lines' names, in order.
func (h *Harness) EventNames() []workflows.Event {
	events := h.Events()
	out := make([]workflows.Event, len(events))
	for i, e := range events {
		out[i] = workflows.Event(e.Event)
	}
	return out
}

// EventsNamed are the recorded lines named name.
func (h *Harness) EventsNamed(name workflows.Event) []activities.Event {
	var out []activities.Event
	for _, e := range h.Events() {
		if e.Event == string(name) {
			out = append(out, e)
		}
	}
	return out
}

// Refunds are the refund rows recorded so far.
func (h *Harness) Refunds() []activities.RefundRow { return locked(h, &h.refunds) }

// Rows are the projections written so far, in order.
func (h *Harness) Rows() []activities.CaseRow { return locked(h, &h.rows) }

// ClockRows are the latest clock row written for each key, for the reports.
func (h *Harness) ClockRows() map[string]activities.ClockRow {
	out := map[string]activities.ClockRow{}
	for _, c := range locked(h, &h.clocks) {
		out[c.Key] = c
	}
	return out
}

// LastRow is the latest projection written.
func (h *Harness) LastRow() activities.CaseRow {
	rows := h.Rows()
	require.NotEmpty(h.T, rows, "no projection written")
	return rows[len(rows)-1]
}

// Notes are the notifications sent so far.
func (h *Harness) Notes() []activities.NotifyInput { return locked(h, &h.notes) }

// NoteKeys are the sent notifications' keys, in order.
func (h *Harness) NoteKeys() []string {
	notes := h.Notes()
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = n.Message.Key
	}
	return out
}

// Choices are the partner choices asked for.
func (h *Harness) Choices() []activities.ChoosePartnerInput { return locked(h, &h.choices) }

// Reports are the SOS reports rendered.
func (h *Harness) Reports() []activities.ReportInput { return locked(h, &h.reports) }

// Docs are the documents rendered.
func (h *Harness) Docs() []activities.Document { return locked(h, &h.docs) }

// Emails are the e-mails sent.
func (h *Harness) Emails() []activities.EmailInput { return locked(h, &h.emails) }

func locked[T any](h *Harness, s *[]T) []T {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*s)
}

// MustJSON marshals a step payload.
func MustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// CST is the hour h of a day in China.
func CST(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, sla.China) }

// SetPartners replaces the available partners, as if one left or joined.
func (h *Harness) SetPartners(partners ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Partners = partners
}

// RequireOK requires the steps sent under ids to have completed without error.
func (h *Harness) RequireOK(ids ...string) {
	h.T.Helper()
	for _, id := range ids {
		require.NoError(h.T, h.Results[id], "step %s", id)
	}
}

// CountNotes counts the notifications whose title begins with prefix.
func (h *Harness) CountNotes(prefix string) int {
	n := 0
	for _, m := range h.Notes() {
		if strings.HasPrefix(m.Message.Title, prefix) {
			n++
		}
	}
	return n
}

// RejectionType is the application error type a validator refused a step with (workflows.RejectConflict,
// workflows.RejectInvalid), or "".
func RejectionType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() != "" {
		return ae.Type()
	}
	if err != nil && strings.Contains(err.Error(), "unknown update") {
		return UnknownStep
	}
	return ""
}

// UnknownStep is RejectionType's answer for a step the workflow has no update for (the API answers 409
// for it without sending it).
const UnknownStep = "unknown step"

// SLAEntry is the entry of clause in entries; the test fails without one.
func SLAEntry(t *testing.T, entries []workflows.SLAEntry, clause string) workflows.SLAEntry {
	t.Helper()
	for _, e := range entries {
		if e.Clause == clause {
			return e
		}
	}
	t.Fatalf("no %s clause in %+v", clause, entries)
	return workflows.SLAEntry{}
}
