// Package customer delivers the messages a case sends its customer — to their DingTalk group, through its
// custom robot, and to their e-mail recipients — from the outbox the case's record step writes
// (db.CustomerMessage, one db.CustomerDelivery per channel). Each delivery is claimed with a lease, sent,
// and marked sent together with the timeline line that says so, so that a worker killed at any point
// neither loses a message nor, outside the instant between the send and its mark, repeats one.
//
// A robot cannot be asked what it already shows, so a worker killed between a robot's answer and the
// mark leaves a delivery that is sent again when its lease ends: the one case where a message may
// arrive twice. A robot takes at most its per-minute limit (DingTalk's 20) counted over every worker
// from the deliveries' sent times; a message beyond it waits its turn, and nothing is dropped.
package customer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/workflows"
)

// Defaults of a Dispatcher.
const (
	DefaultPoll  = time.Second
	DefaultLease = 2 * time.Minute
	DefaultBatch = 20
	// DefaultGiveUpAfter is how long a message is retried after temporary refusals before it is given up.
	DefaultGiveUpAfter = 24 * time.Hour
)

// Timeline details of a delivered message.
const (
	detailDingTalk = "sent to the customer's DingTalk group: "
	detailEmail    = "e-mailed to the customer: "
)

// Dispatcher delivers customer messages. Its zero value needs a Store; without DingTalk or Mailer, a
// delivery to that channel waits (and is retried) until one is configured.
type Dispatcher struct {
	Store    *db.Store
	DingTalk *notifications.DingTalk
	Mailer   notifications.Mailer
	// Alert tells operations, once per delivery, that a channel refused a message for good (a removed
	// robot, a refused signature). Nil only logs it.
	Alert       func(ctx context.Context, m notifications.Message)
	Logger      *slog.Logger
	Poll, Lease time.Duration
	Batch       int
	// PerMinute is a robot's limit over a minute; notifications.DefaultDingTalkPerMinute when zero.
	PerMinute   int
	GiveUpAfter time.Duration
	Clock       func() time.Time
}

func (d *Dispatcher) now() time.Time {
	if d.Clock != nil {
		return d.Clock()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	poll := d.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.logger().Warn("customer messages: delivery round failed; retrying", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce claims the deliveries due and attempts each; it returns how many were attempted.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	lease, batch := d.Lease, d.Batch
	if lease <= 0 {
		lease = DefaultLease
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	due, err := d.Store.ClaimCustomerDeliveries(ctx, d.now(), lease, batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	channels := map[string]channelRead{} // a round reads each case's channel once
	for _, x := range due {
		if _, ok := channels[x.Delivery.CaseID]; !ok {
			ch, err := d.Store.GetCustomerChannel(ctx, x.Delivery.CaseID)
			channels[x.Delivery.CaseID] = channelRead{ch, err}
		}
		if err := d.deliver(ctx, x, channels[x.Delivery.CaseID]); err != nil {
			errs = append(errs, err)
		}
	}
	return len(due), errors.Join(errs...)
}

// channelRead is a case's customer channel as the store answered it.
type channelRead struct {
	ch  *db.CustomerChannel
	err error
}

// deliver attempts one delivery to the channel read and records its outcome; an error is the store's, the
// delivery's lease brings it back.
func (d *Dispatcher) deliver(ctx context.Context, x db.DueCustomerDelivery, read channelRead) error {
	dl, m := x.Delivery, x.Message
	log := d.logger().With(slog.String("key", dl.Key), slog.String("case_id", dl.CaseID), slog.String("channel", dl.Channel))
	ch, err := read.ch, read.err
	switch {
	case errors.Is(err, db.ErrNotFound):
		_, err := d.Store.FailCustomerDelivery(ctx, dl, "the customer's channel was removed", d.now())
		return err
	case err != nil:
		return d.Store.RetryCustomerDelivery(ctx, dl, "customer channel: "+notifications.Redact(err.Error()), d.now().Add(time.Minute))
	}
	var sendErr error
	var detail string
	switch dl.Channel {
	case db.CustomerDingTalk:
		if ch.DingTalkWebhook == "" {
			_, err := d.Store.FailCustomerDelivery(ctx, dl, "the customer's DingTalk robot was removed", d.now())
			return err
		}
		if d.DingTalk == nil {
			return d.Store.RetryCustomerDelivery(ctx, dl, "no DingTalk notifier configured", d.now().Add(time.Minute))
		}
		if wait, ok, err := d.robotFull(ctx, dl.Robot); err != nil {
			return err
		} else if ok {
			return d.Store.RetryCustomerDelivery(ctx, dl, "robot at its per-minute limit", d.now().Add(wait))
		}
		sendErr = d.DingTalk.Send(ctx, notifications.Robot{Webhook: ch.DingTalkWebhook, Secret: ch.DingTalkSecret}, m.Title, m.Text)
		detail = detailDingTalk + m.Title
	case db.CustomerEmail:
		if len(ch.Emails) == 0 {
			_, err := d.Store.FailCustomerDelivery(ctx, dl, "the customer's e-mail recipients were removed", d.now())
			return err
		}
		if d.Mailer == nil {
			return d.Store.RetryCustomerDelivery(ctx, dl, "no mailer configured", d.now().Add(time.Minute))
		}
		sendErr = d.Mailer.Send(ctx, notifications.Mail{To: ch.Emails, Subject: m.Title + " · 订单 " + m.OrderID, Text: plain(m.Text)})
		detail = fmt.Sprintf("%s%s (%d recipients)", detailEmail, m.Title, len(ch.Emails))
	default:
		_, err := d.Store.FailCustomerDelivery(ctx, dl, "unknown channel "+dl.Channel, d.now())
		return err
	}
	now := d.now()
	switch {
	case sendErr == nil:
		log.Info("customer message delivered", slog.String("kind", m.Kind))
		return d.Store.CompleteCustomerDelivery(ctx, dl, now, workflows.ActorSystem, string(workflows.EventCustomerNotified), detail)
	case notifications.Permanent(sendErr):
		reason := notifications.Reason(sendErr)
		first, err := d.Store.FailCustomerDelivery(ctx, dl, reason, now)
		if err != nil {
			return err
		}
		log.Error("customer message undeliverable; given up", slog.String("reason", reason))
		if first {
			d.alert(ctx, dl, m, reason)
		}
		return nil
	case now.Sub(m.CreatedAt) > d.giveUpAfter():
		reason := "still refused after " + d.giveUpAfter().String() + ": " + notifications.Redact(sendErr.Error())
		first, err := d.Store.FailCustomerDelivery(ctx, dl, reason, now)
		if err == nil && first {
			d.alert(ctx, dl, m, reason)
		}
		return err
	default:
		wait := backoff(dl.Attempts)
		if ra, ok := notifications.RetryAfter(sendErr); ok {
			wait = ra
		}
		log.Warn("customer message refused; retrying", slog.Any("error", notifications.Redact(sendErr.Error())), slog.Duration("in", wait))
		return d.Store.RetryCustomerDelivery(ctx, dl, notifications.Redact(sendErr.Error()), now.Add(wait))
	}
}

func (d *Dispatcher) giveUpAfter() time.Duration {
	if d.GiveUpAfter > 0 {
		return d.GiveUpAfter
	}
	return DefaultGiveUpAfter
}

// robotFull reports whether robot has had its per-minute limit in the last minute, and when a slot frees.
func (d *Dispatcher) robotFull(ctx context.Context, robot string) (time.Duration, bool, error) {
	limit := d.PerMinute
	if limit <= 0 {
		limit = notifications.DefaultDingTalkPerMinute
	}
	now := d.now()
	n, at, err := d.Store.RobotSentSince(ctx, robot, now.Add(-time.Minute))
	if err != nil || n < limit {
		return 0, false, err
	}
	free := at[n-limit].Add(time.Minute).Sub(now)
	return max(free, 100*time.Millisecond), true, nil
}

// alert tells operations once that the customer's channel refused a message for good.
func (d *Dispatcher) alert(ctx context.Context, dl db.CustomerDelivery, m db.CustomerMessage, reason string) {
	if d.Alert == nil {
		return
	}
	d.Alert(ctx, notifications.Message{
		Key: dl.Key + "/" + dl.Channel + "/undeliverable", CaseID: dl.CaseID, WorkflowID: dl.CaseID,
		Severity: notifications.SeverityWarning, Title: "Customer message not delivered",
		Text: fmt.Sprintf("A message to the customer's %s could not be delivered and will not be retried: %s. The case goes on; check the channel the marketplace set.",
			channelName(dl.Channel), reason),
		Fields: []notifications.Field{{Name: "Message", Value: m.Kind}, {Name: "Order", Value: m.OrderID}},
	})
}

func channelName(ch string) string {
	if ch == db.CustomerDingTalk {
		return "DingTalk group"
	}
	return "e-mail"
}

// backoff is the wait after the nth refused attempt: 5 s doubling, at most 10 minutes.
func backoff(attempts int) time.Duration {
	wait := 5 * time.Second
	for i := 1; i < attempts && wait < 10*time.Minute; i++ {
		wait *= 2
	}
	return min(wait, 10*time.Minute)
}

// plain is a message's Markdown as an e-mail's text: the heading marks and the quote mark dropped.
func plain(md string) string {
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		l = strings.TrimPrefix(l, "### ")
		l = strings.TrimPrefix(l, "> ")
		lines[i] = strings.ReplaceAll(l, "**", "")
	}
	return strings.Join(lines, "\n")
}
