package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Customer channels: where a case's customer hears from it.
const (
	// CustomerDingTalk is the customer's DingTalk group, through its custom robot.
	CustomerDingTalk = "dingtalk"
	// CustomerEmail is the customer's e-mail recipients.
	CustomerEmail = "email"
)

// CustomerChannel is where a case's customer hears from it: a DingTalk group robot and e-mail recipients,
// either or both. It is set by the marketplace (in the purchase, or later) and read by the customer
// dispatcher only: the robot's webhook (which holds its access token) and secret are stored sealed
// (SealSecret), and neither they nor the addresses ever reach a workflow, a log or a view.
type CustomerChannel struct {
	bun.BaseModel `bun:"table:customer_channels"`

	CaseID string `bun:"case_id,pk"`
	// DingTalkWebhook and DingTalkSecret are stored sealed; GetCustomerChannel opens them.
	DingTalkWebhook string `bun:"dingtalk_webhook"`
	DingTalkSecret  string `bun:"dingtalk_secret"`
	// Robot names the robot without revealing it (a digest of its webhook), to count its messages.
	Robot     string    `bun:"robot"`
	Emails    []string  `bun:"emails,type:jsonb"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// Channels lists the channels set, in the order messages go out.
func (c *CustomerChannel) Channels() []string {
	var out []string
	if c.DingTalkWebhook != "" {
		out = append(out, CustomerDingTalk)
	}
	if len(c.Emails) > 0 {
		out = append(out, CustomerEmail)
	}
	return out
}

// RobotID names a DingTalk robot by a digest of its webhook: the same robot gives the same name, and the
// name reveals nothing of the access token.
func RobotID(webhook string) string {
	sum := sha256.Sum256([]byte(webhook))
	return "robot-" + hex.EncodeToString(sum[:8])
}

// PutCustomerChannel stores the case's customer channel (webhook and secret as given; they are sealed
// here). With replace false an existing channel is kept (a repeated purchase callback), and created says
// whether one was written. An empty channel (no robot, no address) removes it when replace is set.
func (s *Store) PutCustomerChannel(ctx context.Context, ch *CustomerChannel, replace bool) (bool, error) {
	if ch.CaseID == "" {
		return false, fmt.Errorf("put customer channel: empty case id: %w", ErrInvalid)
	}
	if replace && ch.DingTalkWebhook == "" && len(ch.Emails) == 0 {
		_, err := s.NewDelete().Model((*CustomerChannel)(nil)).Where("case_id = ?", ch.CaseID).Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("put customer channel %s: %w", ch.CaseID, err)
		}
		return true, nil
	}
	row := *ch
	row.Robot = ""
	if ch.DingTalkWebhook != "" {
		row.Robot = RobotID(ch.DingTalkWebhook)
	}
	var err error
	if row.DingTalkWebhook, err = s.SealSecret(ch.DingTalkWebhook); err != nil {
		return false, err
	}
	if row.DingTalkSecret, err = s.SealSecret(ch.DingTalkSecret); err != nil {
		return false, err
	}
	if row.Emails == nil {
		row.Emails = []string{}
	}
	row.UpdatedAt = utcOrNow(row.UpdatedAt)
	q := s.NewInsert().Model(&row)
	if replace {
		q = q.On("CONFLICT (case_id) DO UPDATE").Set("dingtalk_webhook = EXCLUDED.dingtalk_webhook").
			Set("dingtalk_secret = EXCLUDED.dingtalk_secret").Set("robot = EXCLUDED.robot").
			Set("emails = EXCLUDED.emails").Set("updated_at = EXCLUDED.updated_at")
	} else {
		q = q.On("CONFLICT (case_id) DO NOTHING")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("put customer channel %s: %w", ch.CaseID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("put customer channel %s: %w", ch.CaseID, err)
	}
	return n > 0, nil
}

// GetCustomerChannel returns the case's customer channel with its webhook and secret opened, or
// ErrNotFound.
func (s *Store) GetCustomerChannel(ctx context.Context, caseID string) (*CustomerChannel, error) {
	ch := new(CustomerChannel)
	if err := s.NewSelect().Model(ch).Where("case_id = ?", caseID).Scan(ctx); err != nil {
		return nil, notFound(err, "customer channel of %s", caseID)
	}
	var err error
	if ch.DingTalkWebhook, err = s.OpenSecret(ch.DingTalkWebhook); err != nil {
		return nil, fmt.Errorf("customer channel of %s: webhook: %w", caseID, err)
	}
	if ch.DingTalkSecret, err = s.OpenSecret(ch.DingTalkSecret); err != nil {
		return nil, fmt.Errorf("customer channel of %s: secret: %w", caseID, err)
	}
	ch.UpdatedAt = ch.UpdatedAt.UTC()
	return ch, nil
}

// CustomerMessage is one message to a case's customer, rendered when the case recorded the event that
// sends it (its key is the event's, plus "/customer"), and delivered once to each channel the customer
// had then (CustomerDelivery).
type CustomerMessage struct {
	bun.BaseModel `bun:"table:customer_messages"`

	Key     string `bun:"key,pk" json:"key"`
	CaseID  string `bun:"case_id" json:"case_id"`
	OrderID string `bun:"order_id" json:"order_id"`
	// Kind is the message's template (workflows.Notice).
	Kind      string    `bun:"kind" json:"kind"`
	Title     string    `bun:"title" json:"title"`
	Text      string    `bun:"text" json:"text"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

// Customer delivery states.
const (
	// CustomerPending: to send (again) from NextAttemptAt; a claimed delivery stays pending, leased.
	CustomerPending = "pending"
	// CustomerSent: the channel has it.
	CustomerSent = "sent"
	// CustomerFailed: the channel can never take it (the robot was removed, its signature is refused).
	CustomerFailed = "failed"
)

// CustomerDelivery is the delivery of one customer message to one channel of the case's customer.
type CustomerDelivery struct {
	bun.BaseModel `bun:"table:customer_deliveries"`

	Key           string     `bun:"key,pk" json:"key"`
	Channel       string     `bun:"channel,pk" json:"channel"`
	CaseID        string     `bun:"case_id" json:"case_id"`
	Robot         string     `bun:"robot" json:"-"`
	State         string     `bun:"state" json:"state"`
	Attempts      int        `bun:"attempts" json:"attempts"`
	NextAttemptAt time.Time  `bun:"next_attempt_at" json:"next_attempt_at"`
	LeaseUntil    *time.Time `bun:"lease_until" json:"-"`
	LastError     string     `bun:"last_error" json:"last_error,omitempty"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
	SentAt        *time.Time `bun:"sent_at" json:"sent_at,omitempty"`
	FailedAt      *time.Time `bun:"failed_at" json:"failed_at,omitempty"`
}

var _ bun.AfterScanRowHook = (*CustomerDelivery)(nil)

// AfterScanRow returns times in UTC.
func (d *CustomerDelivery) AfterScanRow(context.Context) error {
	d.NextAttemptAt, d.CreatedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC()
	d.LeaseUntil, d.SentAt, d.FailedAt = utcPtr(d.LeaseUntil), utcPtr(d.SentAt), utcPtr(d.FailedAt)
	return nil
}

// appendCustomerMessage writes m, in the record step's transaction, with a pending delivery to each
// channel the case's customer has now; a message already written is left alone.
func appendCustomerMessage(ctx context.Context, idb bun.IDB, m *CustomerMessage) error {
	m.CreatedAt = utcOrNow(m.CreatedAt)
	created, err := insertOnce(ctx, idb, m, "key", "customer message "+m.Key)
	if err != nil || !created {
		return err
	}
	var ch CustomerChannel
	err = idb.NewSelect().Model(&ch).Where("case_id = ?", m.CaseID).Scan(ctx)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil // the customer has no channel: the message stays on record, sent nowhere
		}
		return fmt.Errorf("customer message %s: channel: %w", m.Key, err)
	}
	for _, c := range ch.Channels() {
		d := &CustomerDelivery{Key: m.Key, Channel: c, CaseID: m.CaseID, State: CustomerPending, NextAttemptAt: m.CreatedAt, CreatedAt: m.CreatedAt}
		if c == CustomerDingTalk {
			d.Robot = ch.Robot
		}
		if _, err := insertOnce(ctx, idb, d, "key, channel", "customer delivery "+m.Key); err != nil {
			return err
		}
	}
	return nil
}

// DueCustomerDelivery is a claimed delivery with its message.
type DueCustomerDelivery struct {
	Delivery CustomerDelivery
	Message  CustomerMessage
}

// ClaimCustomerDeliveries leases at most limit pending customer deliveries due at now, oldest first: each
// has NextAttemptAt moved to now+lease and Attempts counting the attempt about to be made.
func (s *Store) ClaimCustomerDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]DueCustomerDelivery, error) {
	now = now.UTC()
	due := func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("state = ?", CustomerPending).Where("next_attempt_at <= ?", now)
	}
	found, err := due(s.NewSelect().Model((*CustomerDelivery)(nil))).Exists(ctx)
	if err != nil || !found {
		return nil, err
	}
	var out []DueCustomerDelivery
	err = s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = nil
		var ds []CustomerDelivery
		q := due(tx.NewSelect().Model(&ds)).Order("next_attempt_at ASC", "created_at ASC", "key ASC").Limit(int64(limit))
		if s.IsPostgres() {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil || len(ds) == 0 {
			return err
		}
		until := now.Add(lease)
		keys := make([]string, len(ds))
		for i, d := range ds {
			keys[i] = d.Key
			if _, err := tx.NewUpdate().Model((*CustomerDelivery)(nil)).
				Set("next_attempt_at = ?", until).Set("lease_until = ?", until).Set("attempts = attempts + 1").
				Where("key = ? AND channel = ?", d.Key, d.Channel).Exec(ctx); err != nil {
				return err
			}
		}
		var ms []CustomerMessage
		if err := tx.NewSelect().Model(&ms).Where("key IN (?)", bun.List(keys)).Scan(ctx); err != nil {
			return err
		}
		by := make(map[string]CustomerMessage, len(ms))
		for _, m := range ms {
			m.CreatedAt = m.CreatedAt.UTC()
			by[m.Key] = m
		}
		for _, d := range ds {
			d.NextAttemptAt, d.Attempts, d.LeaseUntil = until, d.Attempts+1, &until
			out = append(out, DueCustomerDelivery{Delivery: d, Message: by[d.Key]})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim customer deliveries: %w", err)
	}
	return out, nil
}

// RobotSentSince counts the messages robot was sent at or after since, by every process: the robot's
// per-minute limit is kept across workers.
func (s *Store) RobotSentSince(ctx context.Context, robot string, since time.Time) (int, []time.Time, error) {
	var at []time.Time
	err := s.NewSelect().Model((*CustomerDelivery)(nil)).Column("sent_at").
		Where("robot = ? AND sent_at >= ?", robot, since.UTC()).Order("sent_at ASC").Scan(ctx, &at)
	if err != nil {
		return 0, nil, fmt.Errorf("robot %s: messages sent: %w", robot, err)
	}
	for i := range at {
		at[i] = at[i].UTC()
	}
	return len(at), at, nil
}

// CompleteCustomerDelivery marks the delivery sent at at and writes the timeline line that says so
// (actor, event, detail), in one transaction. A delivery already sent is left alone, and so is its line.
func (s *Store) CompleteCustomerDelivery(ctx context.Context, d CustomerDelivery, at time.Time, actor, event, detail string) error {
	at = utcOrNow(at)
	return s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*CustomerDelivery)(nil)).
			Set("state = ?", CustomerSent).Set("sent_at = ?", at).Set("lease_until = NULL").Set("last_error = ''").
			Where("key = ? AND channel = ? AND state <> ?", d.Key, d.Channel, CustomerSent).Exec(ctx)
		if err != nil {
			return fmt.Errorf("complete customer delivery %s: %w", d.Key, err)
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return err
		}
		_, err = insertOnce(ctx, tx, &CaseEvent{Key: d.Key + "/" + d.Channel + "/sent", CaseID: d.CaseID, At: at, Actor: actor,
			Event: event, Detail: detail}, "key", "customer message line "+d.Key)
		return err
	})
}

// RetryCustomerDelivery records a refused attempt (errText, fit to show operators) to retry at next.
func (s *Store) RetryCustomerDelivery(ctx context.Context, d CustomerDelivery, errText string, next time.Time) error {
	_, err := s.NewUpdate().Model((*CustomerDelivery)(nil)).
		Set("next_attempt_at = ?", next.UTC()).Set("lease_until = NULL").Set("last_error = ?", errText).
		Where("key = ? AND channel = ? AND state = ?", d.Key, d.Channel, CustomerPending).Exec(ctx)
	if err != nil {
		return fmt.Errorf("retry customer delivery %s: %w", d.Key, err)
	}
	return nil
}

// FailCustomerDelivery gives the delivery up for good at at, for reason (fit to show operators). It
// reports whether this call gave it up, so that operations are told once.
func (s *Store) FailCustomerDelivery(ctx context.Context, d CustomerDelivery, reason string, at time.Time) (bool, error) {
	res, err := s.NewUpdate().Model((*CustomerDelivery)(nil)).
		Set("state = ?", CustomerFailed).Set("failed_at = ?", utcOrNow(at)).Set("lease_until = NULL").Set("last_error = ?", reason).
		Where("key = ? AND channel = ? AND state = ?", d.Key, d.Channel, CustomerPending).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("fail customer delivery %s: %w", d.Key, err)
	}
	n, err := rowsAffected(res)
	return n == 1, err
}

// ListCustomerDeliveries returns a case's customer deliveries with their messages, oldest first.
func (s *Store) ListCustomerDeliveries(ctx context.Context, caseID string) ([]DueCustomerDelivery, error) {
	var ds []CustomerDelivery
	if err := s.NewSelect().Model(&ds).Where("case_id = ?", caseID).Order("created_at ASC", "key ASC", "channel ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list customer deliveries %s: %w", caseID, err)
	}
	var ms []CustomerMessage
	if err := s.NewSelect().Model(&ms).Where("case_id = ?", caseID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list customer messages %s: %w", caseID, err)
	}
	by := make(map[string]CustomerMessage, len(ms))
	for _, m := range ms {
		m.CreatedAt = m.CreatedAt.UTC()
		by[m.Key] = m
	}
	out := make([]DueCustomerDelivery, len(ds))
	for i, d := range ds {
		out[i] = DueCustomerDelivery{Delivery: d, Message: by[d.Key]}
	}
	return out, nil
}

// ListCustomerMessages returns a case's customer messages, oldest first, sent or not.
func (s *Store) ListCustomerMessages(ctx context.Context, caseID string) ([]CustomerMessage, error) {
	ms := []CustomerMessage{}
	if err := s.NewSelect().Model(&ms).Where("case_id = ?", caseID).Order("created_at ASC", "key ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list customer messages %s: %w", caseID, err)
	}
	for i := range ms {
		ms[i].CreatedAt = ms[i].CreatedAt.UTC()
	}
	return ms, nil
}
