package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Notification statuses.
const (
	// NotificationPending is recorded but not yet delivered.
	NotificationPending = "pending"
	// NotificationSent is delivered.
	NotificationSent = "sent"
	// NotificationFailed is the state after a failed attempt; it may be retried.
	NotificationFailed = "failed"
)

// Notification is an outbox row for a chat message: recorded before sending, so a retried
// activity sees that a message was already sent (Status "sent") and does not post it again.
type Notification struct {
	bun.BaseModel `bun:"table:notifications"`

	Key       string     `bun:"key,pk" json:"key"`
	CaseID    string     `bun:"case_id" json:"case_id"`
	Channel   string     `bun:"channel" json:"channel"`
	Text      string     `bun:"text" json:"text"`
	Status    string     `bun:"status" json:"status"`
	Attempts  int        `bun:"attempts" json:"attempts"`
	LastError string     `bun:"last_error" json:"last_error,omitempty"`
	CreatedAt time.Time  `bun:"created_at" json:"created_at"`
	SentAt    *time.Time `bun:"sent_at" json:"sent_at,omitempty"`
}

var _ bun.AfterScanRowHook = (*Notification)(nil)

// AfterScanRow returns times in UTC.
func (n *Notification) AfterScanRow(context.Context) error {
	n.CreatedAt = n.CreatedAt.UTC()
	n.SentAt = utcPtr(n.SentAt)
	return nil
}

// RecordNotification stores n as pending unless a notification with the same Key exists, and
// returns the stored row either way (created tells which).
func (s *Store) RecordNotification(ctx context.Context, n *Notification) (*Notification, bool, error) {
	if n.Key == "" {
		return nil, false, fmt.Errorf("record notification: empty key: %w", ErrInvalid)
	}
	row := *n
	row.Status = NotificationPending
	row.Attempts = 0
	row.LastError = ""
	row.SentAt = nil
	row.CreatedAt = utcOrNow(row.CreatedAt)
	created, err := s.insertOnce(ctx, &row, "key", "record notification "+n.Key)
	if err != nil {
		return nil, false, err
	}
	if created {
		return &row, true, nil
	}
	stored, err := s.GetNotification(ctx, n.Key)
	if err != nil {
		return nil, false, fmt.Errorf("record notification: %w", err)
	}
	return stored, false, nil
}

// GetNotification returns the notification, or ErrNotFound.
func (s *Store) GetNotification(ctx context.Context, key string) (*Notification, error) {
	n := new(Notification)
	if err := s.NewSelect().Model(n).Where("key = ?", key).Scan(ctx); err != nil {
		return nil, notFound(err, "get notification %s", key)
	}
	return n, nil
}

// ListNotifications returns the notifications with status ("" for all), oldest first, at most limit
// (no limit when limit <= 0) — for a sweeper that re-sends pending and failed messages.
func (s *Store) ListNotifications(ctx context.Context, status string, limit int) ([]Notification, error) {
	ns := []Notification{}
	q := s.NewSelect().Model(&ns).Order("created_at ASC", "key ASC")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return ns, nil
}

// MarkNotificationSent records that the message was delivered at at. ErrNotFound for an unknown key.
func (s *Store) MarkNotificationSent(ctx context.Context, key string, at time.Time) error {
	return s.updateNotification(ctx, key, "mark notification sent", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("status = ?", NotificationSent).Set("sent_at = ?", utcOrNow(at)).Set("last_error = ''")
	})
}

// MarkNotificationFailed records a failed delivery attempt and its error, incrementing Attempts.
// A message already sent stays sent. ErrNotFound for an unknown key.
func (s *Store) MarkNotificationFailed(ctx context.Context, key string, errText string) error {
	return s.updateNotification(ctx, key, "mark notification failed", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.
			Set("status = CASE WHEN status = ? THEN status ELSE ? END", NotificationSent, NotificationFailed).
			Set("attempts = attempts + 1").
			Set("last_error = ?", errText)
	})
}

func (s *Store) updateNotification(ctx context.Context, key, what string, set func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	res, err := set(s.NewUpdate().Model((*Notification)(nil))).Where("key = ?", key).Exec(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, key, ErrNotFound)
	}
	return nil
}
