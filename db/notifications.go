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

// Channel delivery states of a notification (NotificationChannel.Status).
const (
	// ChannelSending: an attempt began; whether it reached the channel is unknown until it is marked.
	ChannelSending = "sending"
	// ChannelSent: the channel has the message.
	ChannelSent = "sent"
	// ChannelFailed: the last attempt was refused; the channel does not have the message.
	ChannelFailed = "failed"
)

// NotificationChannel records the delivery of one notification to one chat channel, so that an attempt
// cut short by a crash is known to be uncertain and can be looked up before the message is sent again.
type NotificationChannel struct {
	bun.BaseModel `bun:"table:notification_channels"`

	Key       string    `bun:"key,pk"`
	Channel   string    `bun:"channel,pk"`
	Status    string    `bun:"status"`
	Attempts  int       `bun:"attempts"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// BeginChannelDelivery records that an attempt to deliver key to channel begins and returns the state the
// previous attempt left: "" (none), ChannelSent (nothing to do), ChannelFailed (not delivered) or
// ChannelSending (it may or may not have been delivered). The row is left in ChannelSending unless it was sent.
func (s *Store) BeginChannelDelivery(ctx context.Context, key, channel string, at time.Time) (string, error) {
	if key == "" || channel == "" {
		return "", fmt.Errorf("begin channel delivery: empty key or channel: %w", ErrInvalid)
	}
	row := &NotificationChannel{Key: key, Channel: channel, Status: ChannelSending, Attempts: 1, UpdatedAt: utcOrNow(at)}
	created, err := s.insertOnce(ctx, row, "key, channel", "begin channel delivery "+key)
	if err != nil || created {
		return "", err
	}
	prev := new(NotificationChannel)
	if err := s.NewSelect().Model(prev).Where("key = ? AND channel = ?", key, channel).Scan(ctx); err != nil {
		return "", fmt.Errorf("begin channel delivery %s: %w", key, err)
	}
	if prev.Status == ChannelSent {
		return ChannelSent, nil
	}
	if _, err := s.NewUpdate().Model((*NotificationChannel)(nil)).
		Set("status = ?", ChannelSending).Set("attempts = attempts + 1").Set("updated_at = ?", utcOrNow(at)).
		Where("key = ? AND channel = ? AND status <> ?", key, channel, ChannelSent).Exec(ctx); err != nil {
		return "", fmt.Errorf("begin channel delivery %s: %w", key, err)
	}
	return prev.Status, nil
}

// EndChannelDelivery records the outcome of an attempt: ChannelSent or ChannelFailed. A channel already
// sent stays sent.
func (s *Store) EndChannelDelivery(ctx context.Context, key, channel, status string, at time.Time) error {
	if status != ChannelSent && status != ChannelFailed {
		return fmt.Errorf("end channel delivery: status %q: %w", status, ErrInvalid)
	}
	if _, err := s.NewUpdate().Model((*NotificationChannel)(nil)).
		Set("status = ?", status).Set("updated_at = ?", utcOrNow(at)).
		Where("key = ? AND channel = ? AND status <> ?", key, channel, ChannelSent).Exec(ctx); err != nil {
		return fmt.Errorf("end channel delivery %s: %w", key, err)
	}
	return nil
}
