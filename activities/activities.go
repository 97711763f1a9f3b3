// Package activities holds the side effects of steward's workflows: the case projection and timeline in the
// database, notifications and refunds. Every write is idempotent by a key the workflow passes in, so a
// retried activity never doubles a row, a message or a refund.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/metrics"
	"github.com/steward-oss/steward/notifications"
)

// Activities carries what the activities need. Register one value on the worker; workflows and tests refer
// to its methods through a nil *Activities.
type Activities struct {
	Store    *db.Store
	Notifier notifications.Notifier
	// Mailer sends e-mail (professional-edition reports); nil when no SMTP server is configured.
	Mailer notifications.Mailer
	// PDF renders stored documents as PDF for e-mail attachments; nil when its fonts are missing.
	PDF *PDF
	// UIBaseURL is the Temporal Web UI's address ("http://127.0.0.1:8233"); empty leaves links out.
	UIBaseURL string
	// Namespace is the Temporal namespace, for links to workflows.
	Namespace string
	Logger    *slog.Logger
	// Wakeup, when set (buffered), is told when a record wrote notifications to the outbox, so that the
	// NotificationDispatcher of this process delivers them at once rather than at its next poll.
	Wakeup chan struct{}
}

// CaseRow is the projection of a case that listing and access checks read.
type CaseRow struct {
	CaseID        string     `json:"case_id"`
	Service       string     `json:"service"`
	Spec          string     `json:"spec,omitempty"`
	Stage         string     `json:"stage"`
	Status        string     `json:"status"`
	PartnerID     string     `json:"partner_id,omitempty"`
	CustomerID    string     `json:"customer_id"`
	OrderID       string     `json:"order_id"`
	AmountCents   int64      `json:"amount_cents"`
	Currency      string     `json:"currency,omitempty"`
	SLAStatus     string     `json:"sla_status"`
	RefundPercent int        `json:"refund_percent"`
	NextDeadline  *time.Time `json:"next_deadline,omitempty"`
	OpenedAt      time.Time  `json:"opened_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	// Revision increases with every write the workflow makes, so an out-of-order write is ignored.
	Revision int64 `json:"revision"`
	// Rating is the customer's rating of the partner's work, 0 until given.
	Rating int `json:"rating,omitempty"`
}

// Event is one timeline entry. Key makes its write idempotent.
type Event struct {
	Key    string    `json:"key"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
	// Webhook is the event's webhook type (workflows.WebhookType); empty for an event never sent.
	Webhook string `json:"webhook,omitempty"`
	// PartnerID is the partner company the line concerns (offered, answering or holding the case).
	PartnerID string `json:"partner_id,omitempty"`
	// OfferedAt, on an acceptance, is when the accepted offer was made.
	OfferedAt *time.Time `json:"offered_at,omitempty"`
	// By, ByToken and ByPartner name who took the step the line records: the bearer token's holder (an
	// engineer or a manager), the token's id and the engineer's partner company. Empty for the marketplace's
	// and steward's own lines. They go to the timeline's row only: never into a webhook (TimelineData).
	By        string `json:"by,omitempty"`
	ByToken   string `json:"by_token,omitempty"`
	ByPartner string `json:"by_partner,omitempty"`
	// Customer, when set, is the message this line sends the case's customer.
	Customer *CustomerNotice `json:"customer,omitempty"`
}

// CustomerNotice is a message to a case's customer: the template (workflows.Notice) and its arguments.
type CustomerNotice struct {
	Kind string            `json:"kind"`
	Args map[string]string `json:"args,omitempty"`
}

// RefundRow is a refund owed under one clause. Key makes its write idempotent.
type RefundRow struct {
	Key         string    `json:"key"`
	Clause      string    `json:"clause"`
	Percent     int       `json:"percent"`
	AmountCents int64     `json:"amount_cents"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
	// Webhook is the type of the event announcing the refund (workflows.WebhookRefundOwed); empty for none.
	Webhook string `json:"webhook,omitempty"`
}

// RecordInput is one transition of a case: its new projection, the timeline entries and the refunds it adds.
type RecordInput struct {
	Case    CaseRow     `json:"case"`
	Events  []Event     `json:"events,omitempty"`
	Refunds []RefundRow `json:"refunds,omitempty"`
	// Clocks are the case's SLA clocks that changed since the last record, for the reports.
	Clocks []ClockRow `json:"clocks,omitempty"`
	// Notices are the notifications the transition sends: written to the outbox with it, delivered by the
	// NotificationDispatcher (no activity of the case).
	Notices []NotifyInput `json:"notices,omitempty"`
}

// ClockRow is one SLA clock as the reports read it (db.SLAClock); Key names it within the case.
type ClockRow struct {
	Key         string     `json:"key"`
	Clause      string     `json:"clause"`
	PartnerID   string     `json:"partner_id,omitempty"`
	State       string     `json:"state"`
	Status      string     `json:"status"`
	StartedAt   time.Time  `json:"started_at"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	BreachedAt  *time.Time `json:"breached_at,omitempty"`
}

// Record writes a case transition: the timeline entries and refunds (once each, by key) and the projection.
func (a *Activities) Record(ctx context.Context, in RecordInput) error {
	c := in.Case
	var refunds []db.Refund
	var events []db.CaseEvent
	var out, owed []db.OutboxEvent // a refund's event follows the breach that owes it
	for _, r := range in.Refunds {
		if r.Key == "" {
			return errors.New("record: refund without key")
		}
		refunds = append(refunds, db.Refund{Key: r.Key, CaseID: c.CaseID, Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents,
			Reason: r.Reason, CreatedAt: r.At.UTC()})
		if r.Webhook != "" {
			owed = append(owed, db.OutboxEvent{Key: r.Key + "/" + r.Webhook, Type: r.Webhook, CreatedAt: r.At.UTC(), Data: RefundData{
				RefundID: db.RefundID(r.Key), Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents, Currency: c.Currency, Reason: r.Reason}})
		}
	}
	for _, e := range in.Events {
		if e.Key == "" {
			return errors.New("record: event without key")
		}
		ev := db.CaseEvent{Key: e.Key, CaseID: c.CaseID, At: e.At.UTC(), Actor: e.Actor, Event: e.Event, Detail: e.Detail, PartnerID: e.PartnerID, OfferedAt: e.OfferedAt,
			ByName: e.By, ByTokenID: e.ByToken, ByPartnerID: e.ByPartner}
		if e.Customer != nil {
			title, text, err := RenderCustomer(e.Customer.Kind, CustomerData{OrderID: c.OrderID, Service: c.Service, Spec: c.Spec, Args: e.Customer.Args})
			if err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), "CustomerNotice", err)
			}
			ev.Customer = &db.CustomerMessage{Key: e.Key + "/customer", CaseID: c.CaseID, OrderID: c.OrderID, Kind: e.Customer.Kind,
				Title: title, Text: text, CreatedAt: e.At.UTC()}
		}
		events = append(events, ev)
		if e.Webhook != "" {
			out = append(out, db.OutboxEvent{Key: e.Key, Type: e.Webhook, CreatedAt: e.At.UTC(),
				Data: TimelineData{Event: e.Event, At: e.At.UTC(), Actor: e.Actor, Detail: e.Detail}})
		}
	}
	out = append(out, owed...)
	row := &db.Case{
		CaseID: c.CaseID, WorkflowID: c.CaseID, Service: c.Service, Spec: c.Spec, Stage: c.Stage, Status: c.Status,
		PartnerID: c.PartnerID, CustomerID: c.CustomerID, OrderID: c.OrderID, AmountCents: c.AmountCents,
		SLAStatus: c.SLAStatus, RefundPercent: c.RefundPercent, NextDeadline: c.NextDeadline,
		OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt, ClosedAt: c.ClosedAt, Revision: c.Revision, Rating: c.Rating,
	}
	clocks := make([]db.SLAClock, len(in.Clocks))
	for i, k := range in.Clocks {
		clocks[i] = db.SLAClock{Key: c.CaseID + "/clock/" + k.Key, CaseID: c.CaseID, Service: c.Service, Clause: k.Clause, PartnerID: k.PartnerID,
			State: k.State, Status: k.Status, StartedAt: k.StartedAt, DueAt: k.DueAt, CompletedAt: k.CompletedAt, BreachedAt: k.BreachedAt, UpdatedAt: c.UpdatedAt}
	}
	notices := make([]db.Notification, len(in.Notices))
	for i, n := range in.Notices {
		if n.Message.Key == "" {
			return errors.New("record: notification without key")
		}
		msg, err := json.Marshal(n.Message)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), "Notification", err)
		}
		notices[i] = db.Notification{Key: n.Message.Key, CaseID: n.Message.CaseID, Text: n.Message.Title, CreatedAt: c.UpdatedAt,
			Message: string(msg), PartnerID: n.PartnerID}
	}
	if err := a.Store.RecordCaseNotifying(ctx, row, events, refunds, out, notices, clocks...); err != nil {
		return fmt.Errorf("record case %s: %w", c.CaseID, err)
	}
	if len(notices) > 0 && a.Wakeup != nil {
		select {
		case a.Wakeup <- struct{}{}:
		default: // already told
		}
	}
	return nil
}

// TimelineData is the data of a webhook event announcing a timeline line: the catalogue event, when,
// the kind of actor (never an engineer's name) and the line's detail.
type TimelineData struct {
	Event  string    `json:"event"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail,omitempty"`
}

// RefundData is the data of a refund.owed event.
type RefundData struct {
	RefundID    string `json:"refund_id"`
	Clause      string `json:"clause"`
	Percent     int    `json:"percent"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
}

// NotifyInput is one notification; Message.Key makes it idempotent.
type NotifyInput struct {
	Message notifications.Message `json:"message"`
	// PartnerID, when set, routes the message to that partner company's Slack channel too.
	PartnerID string `json:"partner_id,omitempty"`
}

// ErrTypeNotificationUndeliverable is the application error type of a notification that can never be
// delivered (notifications.Permanent): Notify fails with it, non-retryable, once it has given the
// notification up and told operations.
const ErrTypeNotificationUndeliverable = "NotificationUndeliverable"

// ErrTypeNotificationRateLimited is the application error type of a notification a channel refused for
// now because it was sent too much (a throttled DingTalk robot): retried when the throttle ends.
const ErrTypeNotificationRateLimited = "NotificationRateLimited"

// Notify delivers a notification once: it is recorded in the outbox by key, sent, and marked sent; a retry
// after the mark sends nothing. A partner's Slack channel and DingTalk robot are looked up here, never
// carried in history; the robot is one more channel of the outbox (notifications.PartnerRobotChannel).
//
// A channel the message can never reach (notifications.Permanent: the channel does not exist, the bot is
// not in it, the token is revoked) is given up: its delivery row and the outbox row are marked failed with
// the reason, operations are told once (a message to the ops channel, keyed by the outbox key, unless the
// ops channel is the one failing: then only the log), and Notify fails with a non-retryable
// ErrTypeNotificationUndeliverable, so the workflow stops retrying. The other channels still get the
// message, once. A temporary failure (a rate limit, a server error, a timeout) is returned to be retried.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) error {
	m := in.Message
	if m.Key == "" {
		return errors.New("notify: message without key")
	}
	m, err := a.route(ctx, m, in.PartnerID)
	if err != nil {
		return err
	}
	n, _, err := a.Store.RecordNotification(ctx, &db.Notification{
		Key: m.Key, CaseID: m.CaseID, Channel: m.PartnerChannel, Text: m.Title, Status: db.NotificationPending, CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("record notification %s: %w", m.Key, err)
	}
	return a.send(ctx, m, n)
}

// route fills in the channels of partnerID (its Slack channel, its DingTalk robot) that m goes to as well;
// they are looked up here, never carried in a workflow's history.
func (a *Activities) route(ctx context.Context, m notifications.Message, partnerID string) (notifications.Message, error) {
	if partnerID == "" || (m.PartnerChannel != "" && m.PartnerRobot != nil) {
		return m, nil
	}
	p, err := a.Store.GetPartner(ctx, partnerID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return m, fmt.Errorf("partner %s: %w", partnerID, err)
	}
	if p != nil && m.PartnerChannel == "" {
		m.PartnerChannel = p.SlackChannel
	}
	if p != nil && m.PartnerRobot == nil && p.HasDingTalkRobot() {
		m.PartnerRobot = a.partnerRobot(ctx, p)
	}
	return m, nil
}

// send delivers m, recorded in the outbox as n, once, and marks it sent (a failed attempt counted in its
// Attempts, with the error); a channel that refuses it for good
// gives it up (marked, operations told, a non-retryable ErrTypeNotificationUndeliverable returned). A
// temporary failure is returned as it is, or, from a throttled channel, as a retryable
// ErrTypeNotificationRateLimited with the delay to wait.
func (a *Activities) send(ctx context.Context, m notifications.Message, n *db.Notification) error {
	if n.Status == db.NotificationSent {
		return nil
	}
	if m.Link == "" && a.UIBaseURL != "" && m.WorkflowID != "" {
		m.Link = WorkflowURL(a.UIBaseURL, a.Namespace, m.WorkflowID)
	}
	if n.Undeliverable() {
		// An earlier attempt gave it up, and may have ended before operations heard of it.
		failures, err := a.failures(ctx, n)
		if err != nil {
			return err
		}
		return a.giveUp(ctx, m, failures, nil)
	}
	failures, err := a.deliver(ctx, m, n.CreatedAt)
	if err != nil {
		metrics.NotificationAttempt(metrics.NotificationRetry)
		if merr := a.Store.MarkNotificationRetry(ctx, m.Key, notifications.Reason(err)); merr != nil {
			a.logger().WarnContext(ctx, "mark notification for retry", "key", m.Key, "error", merr)
		}
		if d, ok := notifications.RetryAfter(err); ok {
			// A throttled DingTalk robot: retry when the throttle ends, whichever worker runs it.
			return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("notify %s: %v", m.Key, err), ErrTypeNotificationRateLimited,
				temporal.ApplicationErrorOptions{NextRetryDelay: d, Cause: err})
		}
		return fmt.Errorf("notify %s: %w", m.Key, err)
	}
	if len(failures) > 0 {
		metrics.NotificationAttempt(metrics.NotificationUndeliverable)
		if _, err := a.Store.MarkNotificationUndeliverable(ctx, m.Key, describe(failures), time.Now().UTC()); err != nil {
			return fmt.Errorf("mark notification %s undeliverable: %w", m.Key, err)
		}
		return a.giveUp(ctx, m, failures, causes(failures))
	}
	metrics.NotificationAttempt(metrics.NotificationSent)
	if err := a.Store.MarkNotificationSent(ctx, m.Key, time.Now().UTC()); err != nil {
		return fmt.Errorf("mark notification %s sent: %w", m.Key, err)
	}
	return nil
}

// partnerRobot is p's DingTalk robot, opened. A robot that cannot be opened (the secret key is missing or
// another) is still returned, with the reason: its channel then fails for good and operations are told,
// while the partner's other channels still get the message.
func (a *Activities) partnerRobot(ctx context.Context, p *db.Partner) *notifications.PartnerRobot {
	pr := &notifications.PartnerRobot{Channel: notifications.PartnerRobotChannel(p.ID)}
	webhook, secret, err := a.Store.OpenPartnerRobot(p)
	if err != nil {
		a.logger().ErrorContext(ctx, "partner dingtalk robot cannot be opened", "partner_id", p.ID, "error", err)
		pr.Err = err
		return pr
	}
	pr.Robot = notifications.Robot{Webhook: webhook, Secret: secret}
	return pr
}

// failure is a channel that a notification can never reach, and why.
type failure struct {
	channel string // "" when the Notifier does not deliver channel by channel
	reason  string // notifications.Reason: no token, no address
	err     error  // the failure itself; nil when it was read back from the outbox
}

// deliver sends m once per channel. It returns the channels given up for good (this attempt or an earlier
// one), and the temporary failures, joined, which a retry may overcome; since is when m was first recorded.
func (a *Activities) deliver(ctx context.Context, m notifications.Message, since time.Time) ([]failure, error) {
	if cn, ok := a.Notifier.(notifications.ChannelNotifier); ok {
		return a.notifyChannels(ctx, cn, m, since)
	}
	err := a.Notifier.Notify(ctx, m)
	switch {
	case err == nil:
		return nil, nil
	case notifications.Permanent(err):
		return []failure{{reason: notifications.Reason(err), err: err}}, nil
	default:
		return nil, err
	}
}

// notifyChannels delivers m channel by channel, recording each delivery. A channel whose last attempt was
// cut short (the worker died between sending and recording) is looked up first: if the message is there,
// it is only recorded, so a crash neither loses nor repeats a message. When the look-up itself fails, the
// message is sent again — a repeat is better than a loss. A channel that refuses the message for good is
// marked failed and not tried again. since is when the notification was first recorded.
func (a *Activities) notifyChannels(ctx context.Context, cn notifications.ChannelNotifier, m notifications.Message, since time.Time) ([]failure, error) {
	var (
		errs     []error
		failures []failure
		earlier  []string // channels given up by an earlier attempt
	)
	for _, ch := range cn.Channels(m) {
		prev, err := a.Store.BeginChannelDelivery(ctx, m.Key, ch, time.Now())
		if err != nil {
			return nil, err
		}
		switch prev {
		case db.ChannelSent:
			continue
		case db.ChannelFailed:
			earlier = append(earlier, ch)
			continue
		case db.ChannelSending:
			found, err := cn.Delivered(ctx, m, ch, since)
			if err != nil {
				a.logger().WarnContext(ctx, "cannot tell whether an interrupted notification was delivered; sending it again",
					"key", m.Key, "channel", ch, "error", err)
			}
			if found {
				if err := a.Store.EndChannelDelivery(ctx, m.Key, ch, db.ChannelSent, time.Now()); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := cn.NotifyChannel(ctx, m, ch); err != nil {
			if notifications.Permanent(err) {
				f := failure{channel: ch, reason: notifications.Reason(err), err: err}
				if err := a.Store.FailChannelDelivery(ctx, m.Key, ch, f.reason, time.Now()); err != nil {
					return nil, err
				}
				failures = append(failures, f)
				continue
			}
			errs = append(errs, err)
			if !uncertain(ctx, err) {
				if err := a.Store.EndChannelDelivery(ctx, m.Key, ch, db.ChannelRefused, time.Now()); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := a.Store.EndChannelDelivery(ctx, m.Key, ch, db.ChannelSent, time.Now()); err != nil {
			return nil, err
		}
	}
	if len(earlier) > 0 {
		rows, err := a.Store.ListChannelDeliveries(ctx, m.Key)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if slices.Contains(earlier, r.Channel) {
				failures = append(failures, failure{channel: r.Channel, reason: r.FailureReason})
			}
		}
	}
	return failures, errors.Join(errs...)
}

// failures reads back why a notification given up could not be delivered: its channels' rows, or the
// notification's own reason when it was not delivered channel by channel.
func (a *Activities) failures(ctx context.Context, n *db.Notification) ([]failure, error) {
	rows, err := a.Store.ListChannelDeliveries(ctx, n.Key)
	if err != nil {
		return nil, err
	}
	var fs []failure
	for _, r := range rows {
		if r.Status == db.ChannelFailed && r.FailedAt != nil {
			fs = append(fs, failure{channel: r.Channel, reason: r.FailureReason})
		}
	}
	if len(fs) == 0 {
		fs = []failure{{reason: n.FailureReason}}
	}
	return fs, nil
}

// giveUp tells operations that m could not be delivered and returns the non-retryable error that stops the
// workflow's retries. When operations cannot be told for now, it returns that (retryable) error instead:
// the retry, finding the notification given up, tells them without sending m again.
func (a *Activities) giveUp(ctx context.Context, m notifications.Message, failures []failure, cause error) error {
	msg := fmt.Sprintf("notify %s: undeliverable: %s", m.Key, describe(failures))
	what := fmt.Sprintf("The notification “%s”", m.Title)
	if m.Title == "" {
		what = "A notification"
	}
	if err := a.tellOperations(ctx, m, what, failures); err != nil {
		return fmt.Errorf("%s; telling operations: %w", msg, err)
	}
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeNotificationUndeliverable, cause)
}

// undeliverableSuffix ends the outbox key of the message telling operations that the notification with
// the key before it could not be delivered.
const undeliverableSuffix = "/undeliverable"

// tellOperations posts once, to the operations channel, that what (about m's case) could not be delivered
// where failures say and why. The post goes through the outbox under m.Key+"/undeliverable", so a retried
// activity never posts it twice. When the operations channel is itself among the failures, or the post is
// refused for good, or there is no Notifier, only the log hears of it. An error is a temporary failure of
// the post, to retry.
func (a *Activities) tellOperations(ctx context.Context, m notifications.Message, what string, failures []failure) error {
	where := describe(failures)
	log := a.logger().With("key", m.Key, "case_id", m.CaseID, "undeliverable", where)
	if a.Notifier == nil {
		log.ErrorContext(ctx, "notification undeliverable; no notifier to tell operations")
		return nil
	}
	if cn, ok := a.Notifier.(notifications.ChannelNotifier); ok {
		// The operations channels are where a message without a partner goes.
		ops := cn.Channels(notifications.Message{})
		for _, f := range failures {
			if slices.Contains(ops, f.channel) {
				log.ErrorContext(ctx, "notification undeliverable, the operations channel among them; operations not told in chat")
				return nil
			}
		}
	}
	alert := notifications.Message{
		Key: m.Key + undeliverableSuffix, CaseID: m.CaseID, WorkflowID: m.WorkflowID, Service: m.Service,
		Severity: notifications.SeverityWarning, Title: "Notification not delivered",
		Text:   fmt.Sprintf("%s could not be delivered: %s. It will not be retried.", what, where),
		Fields: []notifications.Field{{Name: "Notification", Value: m.Key}},
		Link:   m.Link,
	}
	for _, f := range failures {
		alert.Fields = append(alert.Fields, notifications.Field{Name: channelName(f.channel), Value: f.reason})
	}
	n, _, err := a.Store.RecordNotification(ctx, &db.Notification{
		Key: alert.Key, CaseID: alert.CaseID, Text: alert.Title, Status: db.NotificationPending, CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("record notification %s: %w", alert.Key, err)
	}
	if n.Status == db.NotificationSent || n.Undeliverable() {
		return nil
	}
	log.WarnContext(ctx, "notification undeliverable; telling operations")
	failed, err := a.deliver(ctx, alert, n.CreatedAt)
	if err != nil {
		if merr := a.Store.MarkNotificationRetry(ctx, alert.Key, notifications.Reason(err)); merr != nil {
			log.WarnContext(ctx, "mark notification for retry", "alert_key", alert.Key, "error", merr)
		}
		return fmt.Errorf("notify %s: %w", alert.Key, err)
	}
	if len(failed) > 0 {
		log.ErrorContext(ctx, "operations cannot be told in chat either", "alert_undeliverable", describe(failed))
		if _, err := a.Store.MarkNotificationUndeliverable(ctx, alert.Key, describe(failed), time.Now().UTC()); err != nil {
			return fmt.Errorf("mark notification %s undeliverable: %w", alert.Key, err)
		}
		return nil
	}
	if err := a.Store.MarkNotificationSent(ctx, alert.Key, time.Now().UTC()); err != nil {
		return fmt.Errorf("mark notification %s sent: %w", alert.Key, err)
	}
	return nil
}

// describe lists the failures for a person: "#partner-acme (slack channel_not_found)", or the reason alone
// when the channel is not known.
func describe(failures []failure) string {
	parts := make([]string, len(failures))
	for i, f := range failures {
		parts[i] = f.reason
		if f.channel != "" {
			parts[i] = f.channel + " (" + f.reason + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// channelName names a failure's channel in an alert; "chat" when the Notifier did not say which.
func channelName(ch string) string {
	if ch == "" {
		return "chat"
	}
	return ch
}

// causes is the failures' errors, joined when there are several: the cause of the non-retryable error.
func causes(failures []failure) error {
	var errs []error
	for _, f := range failures {
		if f.err != nil {
			errs = append(errs, f.err)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// uncertain tells whether a failed send may still have been delivered: it timed out or was cancelled
// rather than refused.
func uncertain(ctx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// WorkflowURL is the Temporal Web UI's page for a workflow.
func WorkflowURL(uiBase, namespace, workflowID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", uiBase, url.PathEscape(namespace), url.PathEscape(workflowID))
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}
