// Package activities holds the side effects of steward's workflows: the case projection and timeline in the
// database, notifications and refunds. Every write is idempotent by a key the workflow passes in, so a
// retried activity never doubles a row, a message or a refund.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
)

// Activities carries what the activities need. Register one value on the worker; workflows and tests refer
// to its methods through a nil *Activities.
type Activities struct {
	Store    *db.Store
	Notifier notifications.Notifier
	// Mailer sends e-mail (professional-edition reports); nil when no SMTP server is configured.
	Mailer notifications.Mailer
	// UIBaseURL is the Temporal Web UI's address ("http://127.0.0.1:8233"); empty leaves links out.
	UIBaseURL string
	// Namespace is the Temporal namespace, for links to workflows.
	Namespace string
	Logger    *slog.Logger
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
	SLAStatus     string     `json:"sla_status"`
	RefundPercent int        `json:"refund_percent"`
	NextDeadline  *time.Time `json:"next_deadline,omitempty"`
	OpenedAt      time.Time  `json:"opened_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	// Revision increases with every write the workflow makes, so an out-of-order write is ignored.
	Revision int64 `json:"revision"`
}

// Event is one timeline entry. Key makes its write idempotent.
type Event struct {
	Key    string    `json:"key"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
}

// RefundRow is a refund owed under one clause. Key makes its write idempotent.
type RefundRow struct {
	Key         string    `json:"key"`
	Clause      string    `json:"clause"`
	Percent     int       `json:"percent"`
	AmountCents int64     `json:"amount_cents"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
}

// RecordInput is one transition of a case: its new projection, the timeline entries and the refunds it adds.
type RecordInput struct {
	Case    CaseRow     `json:"case"`
	Events  []Event     `json:"events,omitempty"`
	Refunds []RefundRow `json:"refunds,omitempty"`
}

// Record writes a case transition: the timeline entries and refunds (once each, by key) and the projection.
func (a *Activities) Record(ctx context.Context, in RecordInput) error {
	for _, r := range in.Refunds {
		if r.Key == "" {
			return errors.New("record: refund without key")
		}
		if _, err := a.Store.RecordRefund(ctx, &db.Refund{
			Key: r.Key, CaseID: in.Case.CaseID, Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents,
			Reason: r.Reason, CreatedAt: r.At.UTC(),
		}); err != nil {
			return fmt.Errorf("record refund %s: %w", r.Key, err)
		}
	}
	for _, e := range in.Events {
		if e.Key == "" {
			return errors.New("record: event without key")
		}
		if _, err := a.Store.AppendEvent(ctx, &db.CaseEvent{
			Key: e.Key, CaseID: in.Case.CaseID, At: e.At.UTC(), Actor: e.Actor, Event: e.Event, Detail: e.Detail,
		}); err != nil {
			return fmt.Errorf("append event %s: %w", e.Key, err)
		}
	}
	c := in.Case
	row := &db.Case{
		CaseID: c.CaseID, WorkflowID: c.CaseID, Service: c.Service, Spec: c.Spec, Stage: c.Stage, Status: c.Status,
		PartnerID: c.PartnerID, CustomerID: c.CustomerID, OrderID: c.OrderID, AmountCents: c.AmountCents,
		SLAStatus: c.SLAStatus, RefundPercent: c.RefundPercent, NextDeadline: c.NextDeadline,
		OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt, ClosedAt: c.ClosedAt, Revision: c.Revision,
	}
	if err := a.Store.UpsertCase(ctx, row); err != nil {
		return fmt.Errorf("upsert case %s: %w", c.CaseID, err)
	}
	return nil
}

// NotifyInput is one notification; Message.Key makes it idempotent.
type NotifyInput struct {
	Message notifications.Message `json:"message"`
	// PartnerID, when set, routes the message to that partner company's Slack channel too.
	PartnerID string `json:"partner_id,omitempty"`
}

// Notify delivers a notification once: it is recorded in the outbox by key, sent, and marked sent; a retry
// after the mark sends nothing. A partner's Slack channel is looked up here, not carried in history.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) error {
	m := in.Message
	if m.Key == "" {
		return errors.New("notify: message without key")
	}
	if in.PartnerID != "" && m.PartnerChannel == "" {
		p, err := a.Store.GetPartner(ctx, in.PartnerID)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return fmt.Errorf("partner %s: %w", in.PartnerID, err)
		}
		if p != nil {
			m.PartnerChannel = p.SlackChannel
		}
	}
	n, _, err := a.Store.RecordNotification(ctx, &db.Notification{
		Key: m.Key, CaseID: m.CaseID, Channel: m.PartnerChannel, Text: m.Title, Status: "pending", CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("record notification %s: %w", m.Key, err)
	}
	if n.Status == "sent" {
		return nil
	}
	if m.Link == "" && a.UIBaseURL != "" && m.WorkflowID != "" {
		m.Link = WorkflowURL(a.UIBaseURL, a.Namespace, m.WorkflowID)
	}
	send := a.Notifier.Notify
	if cn, ok := a.Notifier.(notifications.ChannelNotifier); ok {
		send = func(ctx context.Context, m notifications.Message) error {
			return a.notifyChannels(ctx, cn, m, n.CreatedAt)
		}
	}
	if err := send(ctx, m); err != nil {
		if merr := a.Store.MarkNotificationFailed(ctx, m.Key, err.Error()); merr != nil {
			a.logger().WarnContext(ctx, "mark notification failed", "key", m.Key, "error", merr)
		}
		return fmt.Errorf("notify %s: %w", m.Key, err)
	}
	if err := a.Store.MarkNotificationSent(ctx, m.Key, time.Now().UTC()); err != nil {
		return fmt.Errorf("mark notification %s sent: %w", m.Key, err)
	}
	return nil
}

// notifyChannels delivers m channel by channel, recording each delivery. A channel whose last attempt was
// cut short (the worker died between sending and recording) is looked up first: if the message is there,
// it is only recorded, so a crash neither loses nor repeats a message. When the look-up itself fails, the
// message is sent again — a repeat is better than a loss. since is when the notification was first recorded.
func (a *Activities) notifyChannels(ctx context.Context, cn notifications.ChannelNotifier, m notifications.Message, since time.Time) error {
	var errs []error
	for _, ch := range cn.Channels(m) {
		prev, err := a.Store.BeginChannelDelivery(ctx, m.Key, ch, time.Now())
		if err != nil {
			return err
		}
		switch prev {
		case db.ChannelSent:
			continue
		case db.ChannelSending:
			found, err := cn.Delivered(ctx, m, ch, since)
			if err != nil {
				a.logger().WarnContext(ctx, "cannot tell whether an interrupted notification was delivered; sending it again",
					"key", m.Key, "channel", ch, "error", err)
			}
			if found {
				if err := a.Store.EndChannelDelivery(ctx, m.Key, ch, db.ChannelSent, time.Now()); err != nil {
					return err
				}
				continue
			}
		}
		if err := cn.NotifyChannel(ctx, m, ch); err != nil {
			errs = append(errs, err)
			if !uncertain(ctx, err) {
				if err := a.Store.EndChannelDelivery(ctx, m.Key, ch, db.ChannelFailed, time.Now()); err != nil {
					return err
				}
			}
			continue
		}
		if err := a.Store.EndChannelDelivery(ctx, m.Key, ch, db.ChannelSent, time.Now()); err != nil {
			return err
		}
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
