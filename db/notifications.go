package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Notification statuses.
const (
	// NotificationPending is recorded but not yet delivered; a failed attempt that will be retried leaves
	// it pending, counted in Attempts with its LastError.
	NotificationPending = "pending"
	// NotificationSent is delivered.
	NotificationSent = "sent"
	// NotificationFailed is given up for good: it can never be delivered (to at least one of its channels),
	// FailedAt and FailureReason say when and why, and it is not sent again.
	NotificationFailed = "failed"
)

// Notification is an outbox row for a chat message: recorded before sending, so a retried
// attempt sees that a message was already sent (Status "sent") and does not post it again,
// or that it was given up (Status "failed") and does not try again.
//
// A case's record step writes its notifications in the same transaction as its timeline (Message set,
// NextAttemptAt its creation); a dispatcher claims them with a lease (ClaimNotifications) and delivers
// them. A row without Message was recorded by the Notify activity, which delivers it itself.
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
	// FailedAt is when the notification was given up; FailureReason why, in words fit to show operators
	// (never a token, never an address).
	FailedAt      *time.Time `bun:"failed_at" json:"failed_at,omitempty"`
	FailureReason string     `bun:"failure_reason" json:"failure_reason,omitempty"`
	// Message is the message to deliver, as JSON (the caller's encoding), for the dispatcher; PartnerID the
	// partner company whose channels it goes to as well.
	Message   string `bun:"message" json:"-"`
	PartnerID string `bun:"partner_id" json:"partner_id,omitempty"`
	// NextAttemptAt is when the dispatcher may next claim it; LeaseUntil the end of a claim in progress.
	NextAttemptAt *time.Time `bun:"next_attempt_at" json:"next_attempt_at,omitempty"`
	LeaseUntil    *time.Time `bun:"lease_until" json:"-"`
}

var _ bun.AfterScanRowHook = (*Notification)(nil)

// AfterScanRow returns times in UTC.
func (n *Notification) AfterScanRow(context.Context) error {
	n.CreatedAt = n.CreatedAt.UTC()
	n.SentAt = utcPtr(n.SentAt)
	n.FailedAt = utcPtr(n.FailedAt)
	n.NextAttemptAt = utcPtr(n.NextAttemptAt)
	n.LeaseUntil = utcPtr(n.LeaseUntil)
	return nil
}

// Undeliverable reports whether n was given up for good.
func (n *Notification) Undeliverable() bool {
	return n.Status == NotificationFailed && n.FailedAt != nil
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
	row.FailedAt = nil
	row.FailureReason = ""
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

// appendNotifications writes a record step's notifications to the outbox, each once by key, due at once.
func appendNotifications(ctx context.Context, idb bun.IDB, ns []Notification) error {
	for _, n := range ns {
		if n.Key == "" || n.Message == "" {
			return fmt.Errorf("outbox notification: empty key or message: %w", ErrInvalid)
		}
		row := Notification{Key: n.Key, CaseID: n.CaseID, Channel: n.Channel, Text: n.Text, Status: NotificationPending,
			CreatedAt: utcOrNow(n.CreatedAt), Message: n.Message, PartnerID: n.PartnerID}
		due := row.CreatedAt
		row.NextAttemptAt = &due
		if _, err := insertOnce(ctx, idb, &row, "key", "outbox notification "+n.Key); err != nil {
			return err
		}
	}
	return nil
}

// ClaimNotifications leases at most limit outbox notifications due at now, oldest first — pending ones, and
// ones given up whose operators were not told yet (a row is done once SettleNotification or
// MarkNotificationSent cleared its NextAttemptAt): each has
// NextAttemptAt moved to now+lease (a claimer that dies leaves it to be claimed again then); Attempts
// counts the failed attempts (MarkNotificationRetry). Concurrent claims never share a row (PostgreSQL: FOR UPDATE SKIP
// LOCKED; SQLite: one writer at a time).
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Notification, error) {
	now = now.UTC()
	due := func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("status IN (?)", bun.List([]string{NotificationPending, NotificationFailed})).Where("next_attempt_at <= ?", now)
	}
	found, err := due(s.NewSelect().Model((*Notification)(nil))).Exists(ctx)
	if err != nil || !found {
		return nil, err
	}
	var out []Notification
	err = s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = nil
		q := due(tx.NewSelect().Model(&out)).Order("next_attempt_at ASC", "created_at ASC", "key ASC").Limit(int64(limit))
		if s.IsPostgres() {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil || len(out) == 0 {
			return err
		}
		until := now.Add(lease)
		keys := make([]string, len(out))
		for i := range out {
			keys[i] = out[i].Key
			out[i].NextAttemptAt, out[i].LeaseUntil = &until, &until
		}
		_, err := tx.NewUpdate().Model((*Notification)(nil)).
			Set("next_attempt_at = ?", until).Set("lease_until = ?", until).
			Where("key IN (?)", bun.List(keys)).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}

// RetryNotificationAt records a refused attempt of an outbox notification (errText, fit to show operators)
// to be claimed again at next. A notification sent meanwhile stays as it is.
func (s *Store) RetryNotificationAt(ctx context.Context, key, errText string, next time.Time) error {
	_, err := s.NewUpdate().Model((*Notification)(nil)).
		Set("next_attempt_at = ?", next.UTC()).Set("lease_until = NULL").Set("last_error = ?", errText).
		Where("key = ? AND status <> ?", key, NotificationSent).Exec(ctx)
	if err != nil {
		return fmt.Errorf("retry notification %s: %w", key, err)
	}
	return nil
}

// SetNotificationChannel records the partner channel an outbox notification was routed to (looked up when
// it is delivered), for whoever reads the outbox.
func (s *Store) SetNotificationChannel(ctx context.Context, key, channel string) error {
	if _, err := s.NewUpdate().Model((*Notification)(nil)).Set("channel = ?", channel).Where("key = ?", key).Exec(ctx); err != nil {
		return fmt.Errorf("notification channel %s: %w", key, err)
	}
	return nil
}

// SettleNotification ends the outbox's work on a notification given up and reported: it is not claimed again.
func (s *Store) SettleNotification(ctx context.Context, key string) error {
	if _, err := s.NewUpdate().Model((*Notification)(nil)).Set("next_attempt_at = NULL").Set("lease_until = NULL").
		Where("key = ?", key).Exec(ctx); err != nil {
		return fmt.Errorf("settle notification %s: %w", key, err)
	}
	return nil
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
// (no limit when limit <= 0) — for a sweeper that re-sends pending messages, or a report of failed ones.
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
		return q.Set("status = ?", NotificationSent).Set("sent_at = ?", utcOrNow(at)).Set("last_error = ''").Set("lease_until = NULL").Set("next_attempt_at = NULL")
	})
}

// MarkNotificationRetry records a failed delivery attempt that will be retried, and its error: Attempts
// goes up, the status stays (pending, or sent or failed if another attempt settled it; a "failed" row left
// by an older version without FailedAt goes back to pending). ErrNotFound for an unknown key.
func (s *Store) MarkNotificationRetry(ctx context.Context, key string, errText string) error {
	return s.updateNotification(ctx, key, "mark notification retry", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.
			Set("status = CASE WHEN status = ? AND failed_at IS NULL THEN ? ELSE status END", NotificationFailed, NotificationPending).
			Set("attempts = attempts + 1").
			Set("last_error = ?", errText)
	})
}

// MarkNotificationUndeliverable gives the notification up for good at at, for reason (a text fit to show
// operators: no token, no address): status failed, FailedAt, FailureReason. It reports whether this call
// gave it up — false when it already was, or when it was sent, which it stays — so that whoever gave it up
// tells operations once. ErrNotFound for an unknown key.
func (s *Store) MarkNotificationUndeliverable(ctx context.Context, key, reason string, at time.Time) (bool, error) {
	res, err := s.NewUpdate().Model((*Notification)(nil)).
		Set("status = ?", NotificationFailed).Set("failed_at = ?", utcOrNow(at)).
		Set("failure_reason = ?", reason).Set("last_error = ?", reason).Set("attempts = attempts + 1").Set("lease_until = NULL").
		Where("key = ?", key).Where("status <> ?", NotificationSent).
		Where("(status <> ? OR failed_at IS NULL)", NotificationFailed).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("mark notification undeliverable %s: %w", key, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("mark notification undeliverable %s: %w", key, err)
	}
	if n == 1 {
		return true, nil
	}
	if _, err := s.GetNotification(ctx, key); err != nil {
		return false, fmt.Errorf("mark notification undeliverable: %w", err)
	}
	return false, nil
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
	// ChannelRefused: the last attempt was refused for a reason that may pass (a server error, a rate
	// limit); the channel does not have the message, and the next attempt sends it without a look-up.
	ChannelRefused = "refused"
	// ChannelFailed: given up for good — the message can never reach the channel (it does not exist, the
	// bot is not in it, the token is revoked); FailedAt and FailureReason say when and why.
	ChannelFailed = "failed"
)

// NotificationChannel records the delivery of one notification to one chat channel, so that an attempt
// cut short by a crash is known to be uncertain and can be looked up before the message is sent again,
// and a channel given up is not tried again.
type NotificationChannel struct {
	bun.BaseModel `bun:"table:notification_channels"`

	Key           string     `bun:"key,pk"`
	Channel       string     `bun:"channel,pk"`
	Status        string     `bun:"status"`
	Attempts      int        `bun:"attempts"`
	UpdatedAt     time.Time  `bun:"updated_at"`
	FailedAt      *time.Time `bun:"failed_at"`
	FailureReason string     `bun:"failure_reason"`
}

var _ bun.AfterScanRowHook = (*NotificationChannel)(nil)

// AfterScanRow returns times in UTC.
func (c *NotificationChannel) AfterScanRow(context.Context) error {
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.FailedAt = utcPtr(c.FailedAt)
	return nil
}

// BeginChannelDelivery records that an attempt to deliver key to channel begins and returns the state the
// previous attempt left: "" (none), ChannelSent (nothing to do), ChannelFailed (given up: do not send),
// ChannelRefused (not delivered) or ChannelSending (it may or may not have been delivered). The row is left
// in ChannelSending unless it was sent or given up. A "failed" row without FailedAt, left by an older
// version after a temporary refusal, reads as ChannelRefused.
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
	switch {
	case prev.Status == ChannelSent:
		return ChannelSent, nil
	case prev.Status == ChannelFailed && prev.FailedAt != nil:
		return ChannelFailed, nil
	case prev.Status == ChannelFailed:
		prev.Status = ChannelRefused
	}
	if _, err := s.NewUpdate().Model((*NotificationChannel)(nil)).
		Set("status = ?", ChannelSending).Set("attempts = attempts + 1").Set("updated_at = ?", utcOrNow(at)).
		Where("key = ? AND channel = ? AND status <> ?", key, channel, ChannelSent).
		Where("(status <> ? OR failed_at IS NULL)", ChannelFailed).Exec(ctx); err != nil {
		return "", fmt.Errorf("begin channel delivery %s: %w", key, err)
	}
	return prev.Status, nil
}

// EndChannelDelivery records the outcome of an attempt: ChannelSent or ChannelRefused (use
// FailChannelDelivery to give up). A channel already sent stays sent; one given up stays failed.
func (s *Store) EndChannelDelivery(ctx context.Context, key, channel, status string, at time.Time) error {
	if status != ChannelSent && status != ChannelRefused {
		return fmt.Errorf("end channel delivery: status %q: %w", status, ErrInvalid)
	}
	if _, err := s.NewUpdate().Model((*NotificationChannel)(nil)).
		Set("status = ?", status).Set("updated_at = ?", utcOrNow(at)).
		Where("key = ? AND channel = ? AND status <> ?", key, channel, ChannelSent).
		Where("(status <> ? OR failed_at IS NULL)", ChannelFailed).Exec(ctx); err != nil {
		return fmt.Errorf("end channel delivery %s: %w", key, err)
	}
	return nil
}

// FailChannelDelivery gives up delivering key to channel at at, for reason (fit to show operators: no
// token, no address). A channel already sent stays sent; one already given up keeps its first reason.
func (s *Store) FailChannelDelivery(ctx context.Context, key, channel, reason string, at time.Time) error {
	if _, err := s.NewUpdate().Model((*NotificationChannel)(nil)).
		Set("status = ?", ChannelFailed).Set("updated_at = ?", utcOrNow(at)).
		Set("failed_at = ?", utcOrNow(at)).Set("failure_reason = ?", reason).
		Where("key = ? AND channel = ? AND status <> ?", key, channel, ChannelSent).
		Where("(status <> ? OR failed_at IS NULL)", ChannelFailed).Exec(ctx); err != nil {
		return fmt.Errorf("fail channel delivery %s: %w", key, err)
	}
	return nil
}

// ListChannelDeliveries returns the delivery rows of key, by channel.
func (s *Store) ListChannelDeliveries(ctx context.Context, key string) ([]NotificationChannel, error) {
	rows := []NotificationChannel{}
	if err := s.NewSelect().Model(&rows).Where("key = ?", key).Order("channel ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list channel deliveries %s: %w", key, err)
	}
	return rows, nil
}
