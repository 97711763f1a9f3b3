package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications"
)

var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

func newActs(t *testing.T) (*Activities, *notifications.Recorder) {
	rec := &notifications.Recorder{}
	return &Activities{Store: dbtest.MustOpen(t), Notifier: rec, UIBaseURL: "http://ui", Namespace: "default"}, rec
}

func TestChoosePartner(t *testing.T) {
	a, _ := newActs(t)
	ctx := context.Background()
	for _, p := range []db.Partner{
		{ID: "busy", Name: "Busy", Services: []string{"sos"}, Onsite: true, Capacity: 1, Active: true},
		{ID: "remote", Name: "Remote", Services: []string{"sos"}, Onsite: false, Capacity: 5, Active: true},
		{ID: "onsite", Name: "Onsite", Services: []string{"sos", "dengbao"}, Onsite: true, Capacity: 2, Active: true},
		{ID: "off", Name: "Off", Services: []string{"sos"}, Onsite: true, Capacity: 9, Active: false},
		{ID: "dengbao-only", Name: "DB", Services: []string{"dengbao"}, Onsite: true, Capacity: 9, Active: true},
	} {
		p.CreatedAt = t0
		require.NoError(t, a.Store.AddPartner(ctx, &p))
	}
	// busy holds one open case (full); onsite holds one of two.
	for id, partner := range map[string]string{"sos:X1": "busy", "sos:X2": "onsite"} {
		require.NoError(t, a.Store.UpsertCase(ctx, &db.Case{CaseID: id, WorkflowID: id, Service: "sos", Status: "open", PartnerID: partner}))
	}
	tests := []struct {
		name string
		in   ChoosePartnerInput
		want string
	}{
		{"least loaded", ChoosePartnerInput{Service: "sos"}, "remote"},
		{"on site needed", ChoosePartnerInput{Service: "sos", NeedOnsite: true}, "onsite"},
		{"exclusions", ChoosePartnerInput{Service: "sos", Exclude: []string{"remote"}}, "onsite"},
		{"none left", ChoosePartnerInput{Service: "sos", NeedOnsite: true, Exclude: []string{"onsite"}}, ""},
		{"skill", ChoosePartnerInput{Service: "dengbao"}, "dengbao-only"},
		{"no one has the skill", ChoosePartnerInput{Service: "escort"}, ""},
	}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := env.ExecuteActivity(a.ChoosePartner, tt.in)
			require.NoError(t, err)
			var got ChoosePartnerResult
			require.NoError(t, v.Get(&got))
			assert.Equal(t, tt.want, got.PartnerID)
		})
	}
}

func TestRecordIsIdempotent(t *testing.T) {
	a, _ := newActs(t)
	ctx := context.Background()
	in := RecordInput{
		Case:    CaseRow{CaseID: "sos:O1", Service: "sos", Stage: "assignment", Status: "open", CustomerID: "c", OrderID: "O1", AmountCents: 1000, SLAStatus: "breached", RefundPercent: 50, OpenedAt: t0, UpdatedAt: t0},
		Events:  []Event{{Key: "sos:O1/opened", At: t0, Actor: "marketplace", Event: "opened"}, {Key: "sos:O1/breach", At: t0, Actor: "system", Event: "sla_breached"}},
		Refunds: []RefundRow{{Key: "sos:O1/refund/response", Clause: "response", Percent: 50, AmountCents: 500, At: t0}},
	}
	for range 3 { // a retried activity
		require.NoError(t, a.Record(ctx, in))
	}
	events, err := a.Store.ListEvents(ctx, "sos:O1")
	require.NoError(t, err)
	assert.Len(t, events, 2)
	refunds, err := a.Store.ListRefunds(ctx, "sos:O1")
	require.NoError(t, err)
	require.Len(t, refunds, 1)
	assert.Equal(t, int64(500), refunds[0].AmountCents)
	c, err := a.Store.GetCase(ctx, "sos:O1")
	require.NoError(t, err)
	assert.Equal(t, "breached", c.SLAStatus)
	assert.Equal(t, 50, c.RefundPercent)
}

func TestNotifyOnce(t *testing.T) {
	a, rec := newActs(t)
	ctx := context.Background()
	require.NoError(t, a.Store.AddPartner(ctx, &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"}, Capacity: 1, SlackChannel: "#p1", Active: true, CreatedAt: t0}))
	in := NotifyInput{PartnerID: "p1", Message: notifications.Message{Key: "sos:O1/breach/response", CaseID: "sos:O1", WorkflowID: "sos:O1", Title: "breach"}}

	rec.SetError(errors.New("slack down"))
	require.Error(t, a.Notify(ctx, in))
	rec.SetError(nil)
	require.NoError(t, a.Notify(ctx, in))
	require.NoError(t, a.Notify(ctx, in)) // a retry after success sends nothing
	msgs := rec.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "#p1", msgs[0].PartnerChannel)
	assert.Equal(t, "http://ui/namespaces/default/workflows/sos:O1", msgs[0].Link)
	n, err := a.Store.GetNotification(ctx, in.Message.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, n.Status)
}
