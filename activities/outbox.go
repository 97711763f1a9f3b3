package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
)

// Defaults of a NotificationDispatcher. A notification is retried with backoff (from a second, doubling, at
// most five minutes apart) for a day, as the Notify activity's retry policy did; then it is given up and
// operations are told.
const (
	DefaultNotificationPoll   = time.Second
	DefaultNotificationLease  = 2 * time.Minute
	DefaultNotificationBatch  = 50
	DefaultNotificationGiveUp = 24 * time.Hour
	maxNotificationBackoff    = 5 * time.Minute
)

// NotificationDispatcher delivers the notifications the cases' record steps wrote to the outbox
// (RecordInput.Notices): it claims the due ones with a lease, sends each through the Activities' Notifier
// (every channel once, as Notify does) and marks it sent, retried or given up. Any number of processes
// may run one: a claim is theirs alone until its lease ends, and a process killed mid-delivery leaves its
// claims to be taken again then (a channel's delivery row tells the next attempt what already arrived).
type NotificationDispatcher struct {
	A *Activities
	// Poll is how often it looks for due notifications when not woken (A.Wakeup); Lease how long a claim
	// lasts; Batch how many a round claims; GiveUpAfter how long a notification is retried.
	Poll, Lease, GiveUpAfter time.Duration
	Batch                    int
	Clock                    func() time.Time
}

func (d *NotificationDispatcher) now() time.Time {
	if d.Clock != nil {
		return d.Clock()
	}
	return time.Now()
}

// Run delivers until ctx ends: a round at every wake-up (a record wrote notifications) and every Poll.
func (d *NotificationDispatcher) Run(ctx context.Context) error {
	poll := d.Poll
	if poll <= 0 {
		poll = DefaultNotificationPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				d.A.logger().Warn("notifications: delivery round failed; retrying", slog.Any("error", err))
			}
			if err != nil || n < d.batch() {
				break // a full batch may have more behind it
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.A.Wakeup: // nil when not set: never ready
		}
	}
}

func (d *NotificationDispatcher) batch() int {
	if d.Batch <= 0 {
		return DefaultNotificationBatch
	}
	return d.Batch
}

// RunOnce claims the notifications due and attempts each; it returns how many it claimed.
func (d *NotificationDispatcher) RunOnce(ctx context.Context) (int, error) {
	lease := d.Lease
	if lease <= 0 {
		lease = DefaultNotificationLease
	}
	due, err := d.A.Store.ClaimNotifications(ctx, d.now(), lease, d.batch())
	if err != nil {
		return 0, err
	}
	var errs []error
	for i := range due {
		if err := d.deliver(ctx, &due[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return len(due), errors.Join(errs...)
}

// deliver attempts one claimed notification and settles it: sent, given up (operations told), or due
// again after a backoff. An error is the store's; the claim's lease brings the notification back.
func (d *NotificationDispatcher) deliver(ctx context.Context, n *db.Notification) error {
	var m notifications.Message
	if err := json.Unmarshal([]byte(n.Message), &m); err != nil {
		// Written by this program's own record step: a message that does not decode is a bug, not a retry.
		reason := "stored message unreadable"
		d.A.logger().ErrorContext(ctx, "notification outbox row unreadable", "key", n.Key, "error", err)
		if _, err := d.A.Store.MarkNotificationUndeliverable(ctx, n.Key, reason, d.now()); err != nil {
			return err
		}
		return d.A.Store.SettleNotification(ctx, n.Key)
	}
	m, err := d.A.route(ctx, m, n.PartnerID)
	if err != nil {
		return d.A.Store.RetryNotificationAt(ctx, n.Key, notifications.Reason(err), d.now().Add(backoff(n.Attempts)))
	}
	if m.PartnerChannel != n.Channel && m.PartnerChannel != "" {
		if err := d.A.Store.SetNotificationChannel(ctx, n.Key, m.PartnerChannel); err != nil {
			return err
		}
	}
	err = d.A.send(ctx, m, n) // a row given up whose operators were not told yet: send tells them

	var ae *temporal.ApplicationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Type() == ErrTypeNotificationUndeliverable:
		return d.A.Store.SettleNotification(ctx, n.Key) // given up and operations told
	}
	now := d.now()
	giveUp := d.GiveUpAfter
	if giveUp <= 0 {
		giveUp = DefaultNotificationGiveUp
	}
	switch {
	case n.Undeliverable() && now.Sub(n.CreatedAt) >= 2*giveUp:
		// Given up, and operations could not be told for another day either: the log is all that is left.
		d.A.logger().ErrorContext(ctx, "notification given up; operations could not be told in chat", "key", n.Key, "error", err)
		return d.A.Store.SettleNotification(ctx, n.Key)
	case !n.Undeliverable() && now.Sub(n.CreatedAt) >= giveUp:
		// Given up first, so that the attempts to tell operations never send the notification again.
		reason := fmt.Sprintf("not delivered within %s: %s", giveUp, lastErrors(err))
		if _, err := d.A.Store.MarkNotificationUndeliverable(ctx, n.Key, reason, now); err != nil {
			return err
		}
		if m.Link == "" && d.A.UIBaseURL != "" && m.WorkflowID != "" {
			m.Link = WorkflowURL(d.A.UIBaseURL, d.A.Namespace, m.WorkflowID)
		}
		if err := d.A.tellOperations(ctx, m, fmt.Sprintf("The notification “%s”", m.Title), []failure{{reason: reason}}); err != nil {
			return d.A.Store.RetryNotificationAt(ctx, n.Key, notifications.Reason(err), now.Add(backoff(n.Attempts+1)))
		}
		return d.A.Store.SettleNotification(ctx, n.Key)
	}
	next := now.Add(backoff(n.Attempts + 1))
	if wait, ok := notifications.RetryAfter(err); ok {
		next = now.Add(wait)
	}
	return d.A.Store.RetryNotificationAt(ctx, n.Key, notifications.Reason(err), next)
}

// lastErrors is a failed attempt's errors for operators, one line: "slack notify #p1: internal_error, …"
// (without the "notify <key>:" that wraps them).
func lastErrors(err error) string {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	return strings.ReplaceAll(notifications.Reason(err), "\n", ", ")
}

// backoff is the wait before the attempt after attempts failed ones: a second, doubling, at most five minutes.
func backoff(attempts int) time.Duration {
	d := time.Second
	for i := 1; i < attempts && d < maxNotificationBackoff; i++ {
		d *= 2
	}
	return min(d, maxNotificationBackoff)
}
