// Package notifications tells people in chat about breaches, near-breaches and hand-offs. Activities
// depend on the small Notifier interface; Slack posts Block Kit messages, Log writes them to a
// logger when no Slack token is configured, and Recorder keeps them in memory for tests.
package notifications

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Severity says how urgent a message is; it picks the emoji and the log level.
type Severity string

// Severities.
const (
	// SeverityInfo is for hand-offs and progress.
	SeverityInfo Severity = "info"
	// SeverityWarning is for a clock about to breach.
	SeverityWarning Severity = "warning"
	// SeverityCritical is for a breach.
	SeverityCritical Severity = "critical"
)

// Field is one labelled value shown in a message (a deadline, a partner, a refund).
type Field struct{ Name, Value string }

// Message is one notification about a case. Key is its idempotency key (never shown): a Notifier
// that sees the same key again may skip channels it already delivered to. PartnerChannel is the
// assigned partner's Slack channel, if any, and PartnerRobot its DingTalk robot; Link is the workflow's
// URL in the Temporal Web UI, if any. Text should carry no personal data: it goes to chat and, with
// Log, to logs.
type Message struct {
	Key            string
	CaseID         string
	WorkflowID     string
	Service        string
	Severity       Severity
	Title          string
	Text           string
	Fields         []Field
	PartnerChannel string
	Link           string
	// PartnerRobot is the assigned partner's DingTalk robot, if any: looked up by the Notify activity like
	// PartnerChannel, and never carried in a workflow's history (it holds the robot's secrets).
	PartnerRobot *PartnerRobot `json:"-"`
}

// Notifier delivers a message to the people who should see it.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// ChannelNotifier is a Notifier that delivers channel by channel and can look a delivery up. The outbox
// records each channel's delivery with it, so that an attempt cut short by a crash (the message may or may
// not have reached the channel) is looked up rather than sent again: every channel gets a message once.
type ChannelNotifier interface {
	Notifier
	// Channels lists where m goes, in order.
	Channels(m Message) []string
	// NotifyChannel delivers m to one channel. Its error is Permanent when no retry can deliver m there.
	NotifyChannel(ctx context.Context, m Message, channel string) error
	// Delivered reports whether a message with m.Key reached channel at or after since.
	Delivered(ctx context.Context, m Message, channel string, since time.Time) (bool, error)
}

var (
	_ ChannelNotifier = (*Slack)(nil)
	_ Notifier        = (*Slack)(nil)
	_ Notifier        = (*Log)(nil)
	_ Notifier        = (*Recorder)(nil)
)

// Log is the notifier used when no Slack token is configured: it logs the title, case and
// severity (not the text or fields) at info level, or warn for warning and critical.
type Log struct{ Logger *slog.Logger }

// Notify logs m. It never fails.
func (l *Log) Notify(ctx context.Context, m Message) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelInfo
	if m.Severity == SeverityWarning || m.Severity == SeverityCritical {
		level = slog.LevelWarn
	}
	logger.LogAttrs(ctx, level, "notification",
		slog.String("title", m.Title),
		slog.String("case_id", m.CaseID),
		slog.String("workflow_id", m.WorkflowID),
		slog.String("service", m.Service),
		slog.String("severity", string(m.Severity)),
	)
	return nil
}

// Recorder is an in-memory Notifier for tests of other packages. Its zero value is ready to use
// and it is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	msgs []Message
	err  error
}

// Notify records m, or returns the error set with SetError without recording.
func (r *Recorder) Notify(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	m.Fields = slices.Clone(m.Fields)
	r.msgs = append(r.msgs, m)
	return nil
}

// Messages returns a copy of the messages recorded so far, in order.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Message, len(r.msgs))
	for i, m := range r.msgs {
		m.Fields = slices.Clone(m.Fields)
		out[i] = m
	}
	return out
}

// SetError makes Notify fail with err from now on (nil to succeed again), to test retries.
func (r *Recorder) SetError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// Reset forgets the recorded messages.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = nil
}
