package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications"
)

// fakeMailer records the mails it sends, and every attempt; it fails while err is set.
type fakeMailer struct {
	mu       sync.Mutex
	sent     []notifications.Mail
	attempts int
	err      error
}

func (f *fakeMailer) Send(_ context.Context, m notifications.Mail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.err != nil {
		return f.err
	}
	m.To = slices.Clone(m.To)
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeMailer) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeMailer) mails() (sent []notifications.Mail, attempts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent), f.attempts
}

func newEmailActs(t *testing.T, mailer notifications.Mailer) (*Activities, *testsuite.TestActivityEnvironment) {
	a := &Activities{Store: dbtest.MustOpen(t), Mailer: mailer}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return a, env
}

var reportEmail = EmailInput{
	Key: "dengbao:O1/report/email", CaseID: "dengbao:O1", To: []string{"张三 <zhang@example.com>"},
	Subject: "【专业版】等保测评报告已生成", Text: "您好，报告已生成。", HTML: "<p>您好，报告已生成。</p>",
}

func TestSendEmailOncePerKey(t *testing.T) {
	mailer := &fakeMailer{}
	a, env := newEmailActs(t, mailer)
	for range 3 { // a retried activity
		_, err := env.ExecuteActivity(a.SendEmail, reportEmail)
		require.NoError(t, err)
	}
	other := reportEmail
	other.Key = "dengbao:O1/report/email/2"
	_, err := env.ExecuteActivity(a.SendEmail, other)
	require.NoError(t, err)

	got, _ := mailer.mails()
	require.Len(t, got, 2)
	assert.Equal(t, notifications.Mail{To: reportEmail.To, Subject: reportEmail.Subject, Text: reportEmail.Text, HTML: reportEmail.HTML}, got[0])
	n, err := a.Store.GetNotification(context.Background(), reportEmail.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, n.Status)
	assert.Equal(t, EmailChannel, n.Channel)
	assert.Equal(t, reportEmail.Subject, n.Text)
	assert.Equal(t, reportEmail.CaseID, n.CaseID)
}

func TestSendEmailFailureThenSuccess(t *testing.T) {
	mailer := &fakeMailer{}
	a, env := newEmailActs(t, mailer)
	ctx := context.Background()

	mailer.setErr(errors.New("smtp dial: connection refused"))
	_, err := env.ExecuteActivity(a.SendEmail, reportEmail)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.False(t, appErr.NonRetryable(), "a transient failure is retried")
	n, err := a.Store.GetNotification(ctx, reportEmail.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationPending, n.Status, "a transient failure is no give-up")
	assert.Equal(t, 1, n.Attempts)
	assert.Contains(t, n.LastError, "connection refused")

	mailer.setErr(nil)
	for range 2 {
		_, err = env.ExecuteActivity(a.SendEmail, reportEmail)
		require.NoError(t, err)
	}
	sent, attempts := mailer.mails()
	assert.Len(t, sent, 1)
	assert.Equal(t, 2, attempts)
	n, err = a.Store.GetNotification(ctx, reportEmail.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, n.Status)
}

func TestSendEmailNonRetryable(t *testing.T) {
	noKey := reportEmail
	noKey.Key = ""
	noRecipients := reportEmail
	noRecipients.To = nil
	injected := reportEmail
	injected.Subject = "报告\r\nBcc: x@evil.test"
	tests := []struct {
		name     string
		mailer   notifications.Mailer
		in       EmailInput
		wantType string
		outbox   bool // whether the attempt leaves an outbox row
	}{
		{"no mailer", nil, reportEmail, ErrTypeMailerNotConfigured, false},
		{"no key", &fakeMailer{}, noKey, ErrTypeInvalidEmail, false},
		{"no recipients", &fakeMailer{}, noRecipients, ErrTypeInvalidEmail, false},
		{"header injection", &fakeMailer{}, injected, ErrTypeInvalidEmail, false},
		{"refused by the server", &fakeMailer{err: fmt.Errorf("smtp rcpt zhang@example.com: %w: 550 no such user", notifications.ErrRejected)},
			reportEmail, ErrTypeEmailRejected, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, env := newEmailActs(t, tt.mailer)
			_, err := env.ExecuteActivity(a.SendEmail, tt.in)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, tt.wantType, appErr.Type())
			assert.True(t, appErr.NonRetryable())

			_, err = a.Store.GetNotification(context.Background(), tt.in.Key)
			if tt.outbox {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, db.ErrNotFound)
			}
		})
	}
}
