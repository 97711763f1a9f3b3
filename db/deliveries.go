package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Webhook deliveries: the dispatcher (package webhooks) claims the pending deliveries that are due, sends
// them and records each attempt's outcome here.
//
// A claim leases a delivery: it pushes NextAttemptAt to the end of the lease and counts the attempt, in a
// transaction that no other claim can see half-done (PostgreSQL: the due rows are locked FOR UPDATE SKIP
// LOCKED, so a concurrent claim passes over them; SQLite: the transaction takes the single write lock at
// BEGIN). Two dispatchers, in one process or in two, therefore never send the same attempt at once, as long
// as an attempt ends within its lease; one that does not (its process died) is claimed again when the
// lease runs out.

// DueDelivery is a claimed delivery with what it takes to send it: its event and its subscription as
// stored at the claim (the subscription's current secret signs it).
type DueDelivery struct {
	Delivery     WebhookDelivery
	Event        WebhookEvent
	Subscription WebhookSubscription
}

// ClaimDeliveries leases at most limit pending deliveries due at now (NextAttemptAt <= now) of enabled
// subscriptions, the longest due first: each has NextAttemptAt moved to now+lease and Attempts counting
// the attempt about to be made. The lease should outlast an attempt (the send's timeout) by a margin.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]DueDelivery, error) {
	return s.ClaimDeliveriesFor(ctx, now, lease, limit, 0, nil)
}

// ClaimDeliveriesFor is ClaimDeliveries bounded per subscription: it claims at most perSubscription minus
// inFlight[id] deliveries of each subscription (the caller's attempts still running), none of a
// subscription already at its bound. perSubscription <= 0 is no bound.
func (s *Store) ClaimDeliveriesFor(ctx context.Context, now time.Time, lease time.Duration, limit, perSubscription int, inFlight map[string]int) ([]DueDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	now = now.UTC()
	var full []string
	if perSubscription > 0 {
		for id, n := range inFlight {
			if n >= perSubscription {
				full = append(full, id)
			}
		}
	}
	due := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("state = ?", DeliveryPending).Where("next_attempt_at <= ?", now).
			Where("subscription_id IN (SELECT id FROM webhook_subscriptions WHERE disabled_at IS NULL)")
		if len(full) > 0 {
			q = q.Where("subscription_id NOT IN (?)", bun.List(full))
		}
		return q
	}
	// Idle is the usual case: a plain read answers it without a transaction (nor, on SQLite, the write lock).
	found, err := due(s.NewSelect().Model((*WebhookDelivery)(nil))).Exists(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if !found {
		return nil, nil
	}
	scan := limit
	if perSubscription > 0 {
		scan = min(limit*4, 1000)
	}
	var out []DueDelivery
	err = s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = nil
		var cands []WebhookDelivery
		q := due(tx.NewSelect().Model(&cands)).Order("next_attempt_at ASC", "id ASC").Limit(int64(scan))
		if s.IsPostgres() {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		taken := map[string]int{}
		var picked []WebhookDelivery
		var ids, eventIDs, subIDs []string
		for _, c := range cands {
			if len(picked) == limit {
				break
			}
			if perSubscription > 0 && inFlight[c.SubscriptionID]+taken[c.SubscriptionID] >= perSubscription {
				continue
			}
			if taken[c.SubscriptionID] == 0 {
				subIDs = append(subIDs, c.SubscriptionID)
			}
			taken[c.SubscriptionID]++
			picked = append(picked, c)
			ids = append(ids, c.ID)
			eventIDs = append(eventIDs, c.EventID)
		}
		if len(picked) == 0 {
			return nil
		}
		until := now.Add(lease)
		if _, err := tx.NewUpdate().Model((*WebhookDelivery)(nil)).
			Set("next_attempt_at = ?", until).Set("attempts = attempts + 1").
			Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
			return err
		}
		var events []WebhookEvent
		if err := tx.NewSelect().Model(&events).Where("id IN (?)", bun.List(eventIDs)).Scan(ctx); err != nil {
			return err
		}
		var subs []WebhookSubscription
		if err := tx.NewSelect().Model(&subs).Where("id IN (?)", bun.List(subIDs)).Scan(ctx); err != nil {
			return err
		}
		eventBy := make(map[string]WebhookEvent, len(events))
		for _, e := range events {
			eventBy[e.ID] = e
		}
		subBy := make(map[string]WebhookSubscription, len(subs))
		for _, w := range subs {
			subBy[w.ID] = w
		}
		for _, d := range picked {
			ev, ok := eventBy[d.EventID]
			if !ok {
				return fmt.Errorf("delivery %s: event %s: %w", d.ID, d.EventID, ErrNotFound)
			}
			d.NextAttemptAt, d.Attempts = until, d.Attempts+1
			out = append(out, DueDelivery{Delivery: d, Event: ev, Subscription: subBy[d.SubscriptionID]})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// CompleteDelivery records that the delivery was delivered at at (the receiver answered status). A
// delivery already delivered keeps its first time; one given up meanwhile (its subscription disabled
// while the attempt ran) is delivered all the same, since the receiver has it.
func (s *Store) CompleteDelivery(ctx context.Context, id string, status int, at time.Time) error {
	return s.updateDelivery(ctx, id, "complete delivery", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", DeliveryDelivered).Set("delivered_at = ?", utcOrNow(at)).
			Set("last_status = ?", status).Set("last_error = ''").Set("failed_at = NULL").
			Where("state <> ?", DeliveryDelivered)
	})
}

// RetryDelivery records a failed attempt (status: the receiver's answer, 0 for none; errText: why, fit to
// show operators) and when to try again. Only a pending delivery changes: one delivered or given up
// meanwhile stays as it is.
func (s *Store) RetryDelivery(ctx context.Context, id string, status int, errText string, next time.Time) error {
	return s.updateDelivery(ctx, id, "retry delivery", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("next_attempt_at = ?", utcOrNow(next)).Set("last_status = ?", status).Set("last_error = ?", errText).
			Where("state = ?", DeliveryPending)
	})
}

// FailDelivery gives a pending delivery up at at, after a last failed attempt (status, errText), and marks
// it alerted. first reports whether this call gave it up — false when it was already given up or
// delivered — so that ops are alerted once. An unknown id is ErrNotFound.
func (s *Store) FailDelivery(ctx context.Context, id string, status int, errText string, at time.Time) (first bool, err error) {
	at = utcOrNow(at)
	res, err := s.NewUpdate().Model((*WebhookDelivery)(nil)).
		Set("state = ?", DeliveryFailed).Set("failed_at = ?", at).Set("alerted_at = ?", at).
		Set("last_status = ?", status).Set("last_error = ?", errText).
		Where("id = ?", id).Where("state = ?", DeliveryPending).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("fail delivery %s: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("fail delivery %s: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	if _, err := s.GetDelivery(ctx, id); err != nil {
		return false, fmt.Errorf("fail delivery: %w", err)
	}
	return false, nil
}

// RedeliverDelivery sends a delivery again, whatever its state: it goes back to pending, due at now, with
// no attempts and no failure, and its CreatedAt becomes now, so that its retries run the dispatcher's
// give-up period from the redelivery. Its event, and so the id the receiver deduplicates by, is the same.
// An unknown id is ErrNotFound; a delivery whose subscription is disabled is ErrConflict.
func (s *Store) RedeliverDelivery(ctx context.Context, id string, now time.Time) (*WebhookDelivery, error) {
	d, err := s.GetDelivery(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("redeliver: %w", err)
	}
	sub, err := s.GetWebhookSubscription(ctx, d.SubscriptionID)
	if err != nil {
		return nil, fmt.Errorf("redeliver %s: %w", id, err)
	}
	if sub.DisabledAt != nil {
		return nil, fmt.Errorf("redeliver %s: subscription %s is disabled: %w", id, sub.ID, ErrConflict)
	}
	now = utcOrNow(now)
	if err := s.updateDelivery(ctx, id, "redeliver", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", DeliveryPending).Set("attempts = 0").Set("next_attempt_at = ?", now).
			Set("created_at = ?", now).Set("last_status = 0").Set("last_error = ''").
			Set("delivered_at = NULL").Set("failed_at = NULL").Set("alerted_at = NULL")
	}); err != nil {
		return nil, err
	}
	return s.GetDelivery(ctx, id)
}

// GetDelivery returns the delivery with id, or ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, id string) (*WebhookDelivery, error) {
	d := new(WebhookDelivery)
	if err := s.NewSelect().Model(d).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "webhook delivery %s", id)
	}
	return d, nil
}

// DeliveryFilter selects deliveries; an empty field does not filter. Limit <= 0 is 100.
type DeliveryFilter struct {
	SubscriptionID string
	State          string
	CaseID         string
	Limit          int
}

// ListDeliveries returns the deliveries f selects, the most recent first.
func (s *Store) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]WebhookDelivery, error) {
	ds := []WebhookDelivery{}
	q := s.NewSelect().Model(&ds).Order("created_at DESC", "id ASC")
	if f.SubscriptionID != "" {
		q = q.Where("subscription_id = ?", f.SubscriptionID)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.CaseID != "" {
		q = q.Where("event_id IN (SELECT id FROM webhook_events WHERE case_id = ?)", f.CaseID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if err := q.Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

func (s *Store) updateDelivery(ctx context.Context, id, what string, set func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	res, err := set(s.NewUpdate().Model((*WebhookDelivery)(nil))).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	if n == 0 {
		if _, err := s.GetDelivery(ctx, id); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}
