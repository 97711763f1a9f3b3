package db

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Event webhooks. An event exists exactly when its source row does: RecordCase writes the timeline lines,
// refunds and case row of one record step and their outbox events in one transaction. Each event gets
// the case's next sequence number (gap-free, so a receiver can order a case's events and spot a missing
// one) and one pending delivery per enabled subscription that wants its type; the worker's dispatcher
// (package webhooks) delivers them.

// WebhookEvent is one event in the outbox. Payload is exactly the JSON body delivered: the envelope
// {id, type, created_at, case_id, order_id, customer_id, service, sequence, data}.
type WebhookEvent struct {
	bun.BaseModel `bun:"table:webhook_events"`

	ID        string          `bun:"id,pk" json:"id"`
	Key       string          `bun:"key" json:"-"`
	CaseID    string          `bun:"case_id" json:"case_id"`
	Sequence  int64           `bun:"sequence" json:"sequence"`
	Type      string          `bun:"type" json:"type"`
	CreatedAt time.Time       `bun:"created_at" json:"created_at"`
	Payload   json.RawMessage `bun:"payload,type:text" json:"payload"`
}

var _ bun.AfterScanRowHook = (*WebhookEvent)(nil)

// AfterScanRow returns times in UTC.
func (e *WebhookEvent) AfterScanRow(context.Context) error {
	e.CreatedAt = e.CreatedAt.UTC()
	return nil
}

// Envelope is a webhook event's body.
type Envelope struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	CaseID     string    `json:"case_id"`
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	Service    string    `json:"service"`
	Sequence   int64     `json:"sequence"`
	Data       any       `json:"data"`
}

// OutboxEvent is an event to write with its source rows: Key is the source's idempotency key (a retried
// record writes nothing twice), Data the event's own fields.
type OutboxEvent struct {
	Key       string
	Type      string
	CreatedAt time.Time
	Data      any
}

// WebhookEventID is the id of the event written under key: "evt_" and 24 hex digits of its SHA-256, so
// a retried record and a redelivery carry the same id.
func WebhookEventID(key string) string { return "evt_" + hashID(key) }

func hashID(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:12])
}

// EventList is a subscription's event types, stored as comma-separated text; "*" subscribes to all.
type EventList []string

// AllEvents subscribes to every event type.
const AllEvents = "*"

// Value stores the list as text.
func (l EventList) Value() (driver.Value, error) { return strings.Join(l, ","), nil }

// Scan reads the list from text.
func (l *EventList) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
	default:
		return fmt.Errorf("event list: cannot scan %T", src)
	}
	*l = nil
	if s != "" {
		*l = strings.Split(s, ",")
	}
	return nil
}

// Wants reports whether the list subscribes to type t.
func (l EventList) Wants(t string) bool {
	return slices.Contains(l, AllEvents) || slices.Contains(l, t)
}

// WebhookSubscription is a receiver of events, configured by operators. Secret signs its deliveries; it
// is shown once, when added or rotated, and never listed.
type WebhookSubscription struct {
	bun.BaseModel `bun:"table:webhook_subscriptions"`

	ID           string     `bun:"id,pk" json:"id"`
	URL          string     `bun:"url" json:"url"`
	Events       EventList  `bun:"events,type:text" json:"events"`
	Secret       string     `bun:"secret" json:"-"`
	AllowPrivate bool       `bun:"allow_private" json:"allow_private"`
	CreatedAt    time.Time  `bun:"created_at" json:"created_at"`
	DisabledAt   *time.Time `bun:"disabled_at" json:"disabled_at,omitempty"`
	// PreviousSecret is the secret before the last rotation, kept until PreviousUntil: deliveries until
	// then carry a signature with each (RotateWebhookSecretOverlap, SigningSecrets).
	PreviousSecret string     `bun:"previous_secret" json:"-"`
	PreviousUntil  *time.Time `bun:"previous_until" json:"previous_until,omitempty"`
}

var _ bun.AfterScanRowHook = (*WebhookSubscription)(nil)

// AfterScanRow returns times in UTC.
func (w *WebhookSubscription) AfterScanRow(context.Context) error {
	w.CreatedAt, w.DisabledAt, w.PreviousUntil = w.CreatedAt.UTC(), utcPtr(w.DisabledAt), utcPtr(w.PreviousUntil)
	return nil
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event's delivery to one subscription, retried until delivered or given up.
type WebhookDelivery struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	ID             string     `bun:"id,pk" json:"id"`
	EventID        string     `bun:"event_id" json:"event_id"`
	SubscriptionID string     `bun:"subscription_id" json:"subscription_id"`
	State          string     `bun:"state" json:"state"`
	Attempts       int        `bun:"attempts" json:"attempts"`
	NextAttemptAt  time.Time  `bun:"next_attempt_at" json:"next_attempt_at"`
	LastStatus     int        `bun:"last_status" json:"last_status,omitempty"`
	LastError      string     `bun:"last_error" json:"last_error,omitempty"`
	CreatedAt      time.Time  `bun:"created_at" json:"created_at"`
	DeliveredAt    *time.Time `bun:"delivered_at" json:"delivered_at,omitempty"`
	FailedAt       *time.Time `bun:"failed_at" json:"failed_at,omitempty"`
	AlertedAt      *time.Time `bun:"alerted_at" json:"alerted_at,omitempty"`
}

var _ bun.AfterScanRowHook = (*WebhookDelivery)(nil)

// AfterScanRow returns times in UTC.
func (d *WebhookDelivery) AfterScanRow(context.Context) error {
	d.NextAttemptAt, d.CreatedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC()
	d.DeliveredAt, d.FailedAt, d.AlertedAt = utcPtr(d.DeliveredAt), utcPtr(d.FailedAt), utcPtr(d.AlertedAt)
	return nil
}

// WebhookDeliveryID is the id of an event's delivery to a subscription.
func WebhookDeliveryID(eventID, subscriptionID string) string {
	return "whd_" + hashID(eventID+"/"+subscriptionID)
}

// recordAttempts bounds the retries of a record transaction that lost a race for a case's next
// sequence number (PostgreSQL, two records of one case at once) or an event's key.
const recordAttempts = 5

// RecordCase writes one record step of a case in one transaction: its refunds and timeline lines
// (each once, by key), the case row (unless a later revision is stored) and the outbox events out, each
// once by key, numbered and fanned out to the subscriptions that want them.
func (s *Store) RecordCase(ctx context.Context, c *Case, events []CaseEvent, refunds []Refund, out []OutboxEvent, clocks ...SLAClock) error {
	return s.RecordCaseNotifying(ctx, c, events, refunds, out, nil, clocks...)
}

// RecordCaseNotifying is RecordCase that also writes the notifications the step sends to the outbox (each
// once by key), for the dispatcher to deliver.
func (s *Store) RecordCaseNotifying(ctx context.Context, c *Case, events []CaseEvent, refunds []Refund, out []OutboxEvent, notices []Notification, clocks ...SLAClock) error {
	for i := range refunds {
		if refunds[i].Key == "" || refunds[i].CaseID == "" {
			return fmt.Errorf("record refund: empty key or case id: %w", ErrInvalid)
		}
		prepareRefund(&refunds[i])
	}
	for i := range events {
		if events[i].Key == "" || events[i].CaseID == "" {
			return fmt.Errorf("append event: empty key or case id: %w", ErrInvalid)
		}
		events[i].At, events[i].OfferedAt = utcOrNow(events[i].At), utcPtr(events[i].OfferedAt)
	}
	var err error
	for range recordAttempts {
		err = s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for i := range refunds {
				if _, err := insertOnce(ctx, tx, &refunds[i], "", "record refund "+refunds[i].Key); err != nil {
					return err
				}
			}
			for i := range events {
				created, err := insertOnce(ctx, tx, &events[i], "key", "append event "+events[i].Key)
				if err != nil {
					return err
				}
				if m := events[i].Customer; created && m != nil {
					msg := *m
					if err := appendCustomerMessage(ctx, tx, &msg); err != nil {
						return err
					}
				}
			}
			if err := upsertCase(ctx, tx, c); err != nil {
				return err
			}
			if err := upsertClocks(ctx, tx, clocks); err != nil {
				return err
			}
			if err := appendNotifications(ctx, tx, notices); err != nil {
				return err
			}
			return appendOutbox(ctx, tx, c.CaseID, c.OrderID, c.CustomerID, c.Service, out)
		})
		if err == nil || !isUniqueViolation(err) {
			return err
		}
	}
	return fmt.Errorf("record case %s: %w", c.CaseID, err)
}

// AppendOutbox writes events of a case outside a record step (a refund paid or waived), in idb: the
// store, or the caller's transaction that writes their source rows.
func (s *Store) AppendOutbox(ctx context.Context, idb bun.IDB, caseID string, out ...OutboxEvent) error {
	var c Case
	if err := idb.NewSelect().Model(&c).Where("case_id = ?", caseID).Scan(ctx); err != nil {
		return notFound(err, "append outbox: case %s", caseID)
	}
	return appendOutbox(ctx, idb, c.CaseID, c.OrderID, c.CustomerID, c.Service, out)
}

// appendOutbox writes the events of out not yet stored, numbering them after the case's last, and a
// pending delivery of each to every enabled subscription that wants its type.
func appendOutbox(ctx context.Context, idb bun.IDB, caseID, orderID, customerID, service string, out []OutboxEvent) error {
	if len(out) == 0 {
		return nil
	}
	var subs []WebhookSubscription
	if err := idb.NewSelect().Model(&subs).Where("disabled_at IS NULL").Order("id ASC").Scan(ctx); err != nil {
		return fmt.Errorf("outbox: subscriptions: %w", err)
	}
	var last int64
	if err := idb.NewSelect().Table("webhook_events").ColumnExpr("COALESCE(MAX(sequence), 0)").Where("case_id = ?", caseID).Scan(ctx, &last); err != nil {
		return fmt.Errorf("outbox: sequence of %s: %w", caseID, err)
	}
	for _, o := range out {
		if o.Key == "" || o.Type == "" {
			return fmt.Errorf("outbox: event without key or type: %w", ErrInvalid)
		}
		// One statement whether or not the event is stored already (a record step run again): the insert
		// that finds its id takes no sequence number, and the event keeps the one it has.
		id := WebhookEventID(o.Key)
		at := utcOrNow(o.CreatedAt)
		body, err := json.Marshal(Envelope{ID: id, Type: o.Type, CreatedAt: at, CaseID: caseID, OrderID: orderID, CustomerID: customerID,
			Service: service, Sequence: last + 1, Data: o.Data})
		if err != nil {
			return fmt.Errorf("outbox: event %s: %w", o.Key, err)
		}
		ev := &WebhookEvent{ID: id, Key: o.Key, CaseID: caseID, Sequence: last + 1, Type: o.Type, CreatedAt: at, Payload: body}
		created, err := insertOnce(ctx, idb, ev, "id", "outbox: event "+o.Key)
		if err != nil {
			return err
		}
		if !created {
			continue
		}
		last++
		for _, sub := range subs {
			if !sub.Events.Wants(o.Type) {
				continue
			}
			d := &WebhookDelivery{ID: WebhookDeliveryID(id, sub.ID), EventID: id, SubscriptionID: sub.ID, State: DeliveryPending,
				NextAttemptAt: at, CreatedAt: at}
			if _, err := idb.NewInsert().Model(d).Exec(ctx); err != nil {
				return fmt.Errorf("outbox: delivery of %s to %s: %w", id, sub.ID, err)
			}
		}
	}
	return nil
}

// ListWebhookEvents returns a case's events in sequence.
func (s *Store) ListWebhookEvents(ctx context.Context, caseID string) ([]WebhookEvent, error) {
	es := []WebhookEvent{}
	if err := s.NewSelect().Model(&es).Where("case_id = ?", caseID).Order("sequence ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list webhook events %s: %w", caseID, err)
	}
	return es, nil
}

// GetWebhookEvent returns the event with id.
func (s *Store) GetWebhookEvent(ctx context.Context, id string) (*WebhookEvent, error) {
	var e WebhookEvent
	if err := s.NewSelect().Model(&e).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "webhook event %s", id)
	}
	return &e, nil
}

// AddWebhookSubscription stores a new subscription; ID, URL, Events and Secret are required. A zero
// CreatedAt is now.
func (s *Store) AddWebhookSubscription(ctx context.Context, w *WebhookSubscription) error {
	if w.ID == "" || w.URL == "" || len(w.Events) == 0 || w.Secret == "" {
		return fmt.Errorf("add webhook subscription: id, url, events and secret are required: %w", ErrInvalid)
	}
	w.CreatedAt = utcOrNow(w.CreatedAt)
	if _, err := s.NewInsert().Model(w).Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("add webhook subscription %s: %w", w.ID, ErrConflict)
		}
		return fmt.Errorf("add webhook subscription %s: %w", w.ID, err)
	}
	return nil
}

// GetWebhookSubscription returns the subscription with id.
func (s *Store) GetWebhookSubscription(ctx context.Context, id string) (*WebhookSubscription, error) {
	var w WebhookSubscription
	if err := s.NewSelect().Model(&w).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "webhook subscription %s", id)
	}
	return &w, nil
}

// ListWebhookSubscriptions returns every subscription, enabled or not, oldest first.
func (s *Store) ListWebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error) {
	ws := []WebhookSubscription{}
	if err := s.NewSelect().Model(&ws).Order("created_at ASC", "id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list webhook subscriptions: %w", err)
	}
	return ws, nil
}

// DisableWebhookSubscription stops new events from reaching the subscription; its pending deliveries
// are given up. Disabling twice changes nothing.
func (s *Store) DisableWebhookSubscription(ctx context.Context, id string, at time.Time) error {
	return s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*WebhookSubscription)(nil)).Set("disabled_at = ?", at.UTC()).
			Where("id = ?", id).Where("disabled_at IS NULL").Exec(ctx)
		if err != nil {
			return fmt.Errorf("disable webhook subscription %s: %w", id, err)
		}
		if n, _ := rowsAffected(res); n == 0 {
			if _, err := s.GetWebhookSubscription(ctx, id); err != nil {
				return err
			}
			return nil
		}
		_, err = tx.NewUpdate().Model((*WebhookDelivery)(nil)).Set("state = ?", DeliveryFailed).Set("failed_at = ?", at.UTC()).
			Set("last_error = ?", "subscription disabled").Where("subscription_id = ?", id).Where("state = ?", DeliveryPending).Exec(ctx)
		if err != nil {
			return fmt.Errorf("disable webhook subscription %s: deliveries: %w", id, err)
		}
		return nil
	})
}

// RotateWebhookSecret replaces the subscription's secret at once, with no overlap (the previous one is
// dropped); pending deliveries are signed with the new one from their next attempt on.
// RotateWebhookSecretOverlap keeps the old one signing beside it for a while.
func (s *Store) RotateWebhookSecret(ctx context.Context, id, secret string) error {
	if secret == "" {
		return fmt.Errorf("rotate webhook secret %s: empty secret: %w", id, ErrInvalid)
	}
	res, err := s.NewUpdate().Model((*WebhookSubscription)(nil)).Set("secret = ?", secret).Set("previous_secret = ''").
		Set("previous_until = NULL").Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("rotate webhook secret %s: %w", id, err)
	}
	if n, _ := rowsAffected(res); n == 0 {
		return fmt.Errorf("webhook subscription %s: %w", id, ErrNotFound)
	}
	return nil
}
