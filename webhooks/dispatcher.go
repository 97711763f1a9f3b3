// Package webhooks delivers the event webhooks of the outbox (db.WebhookEvent) to their subscribers: the
// worker's Dispatcher claims due deliveries, POSTs each event's payload signed with the subscription's
// current secret (signing.V2) — and its previous one, during a rotation's overlap — and retries with exponential backoff until the receiver answers 2xx or the
// give-up period runs out, when the delivery is marked failed and operations are alerted once.
//
// Delivery is at least once: an attempt whose answer is lost (a timeout, a crash) is sent again, with the
// same event id, which receivers deduplicate by.
package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/metrics"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/workflows"
)

// Headers of a delivery, besides signing.HeaderTimestamp and signing.HeaderSignature.
const (
	HeaderEventID   = "X-Steward-Event-Id"
	HeaderEventType = "X-Steward-Event-Type"
	UserAgent       = "steward-webhooks"
)

// Defaults of a Dispatcher's settings.
const (
	DefaultConcurrency  = 4
	DefaultTimeout      = 10 * time.Second
	DefaultGiveUp       = 72 * time.Hour
	DefaultPollInterval = time.Second
	DefaultBatch        = 64
	// MaxBackoff caps the wait between two attempts.
	MaxBackoff = time.Hour
)

// leaseMargin is how much longer than an attempt's timeout a claim leases its delivery: the time to record
// the outcome.
const leaseMargin = time.Minute

// recordTimeout bounds the write of an attempt's outcome.
const recordTimeout = 10 * time.Second

// drainLimit is how much of a receiver's answer is read (and dropped), so the connection can be reused.
const drainLimit = 64 << 10

// Store is what the dispatcher needs of the database; *db.Store is one.
type Store interface {
	ClaimDeliveriesFor(ctx context.Context, now time.Time, lease time.Duration, limit, perSubscription int, inFlight map[string]int) ([]db.DueDelivery, error)
	CompleteDelivery(ctx context.Context, id string, status int, at time.Time) error
	RetryDelivery(ctx context.Context, id string, status int, errText string, next time.Time) error
	FailDelivery(ctx context.Context, id string, status int, errText string, at time.Time) (bool, error)
	MarkRefundInstructed(ctx context.Context, refundID string, at time.Time) error
}

var _ Store = (*db.Store)(nil)

// Dispatcher delivers pending webhook deliveries. Its zero settings are the defaults; set the fields before
// the first Run or DeliverDue and do not change them after.
type Dispatcher struct {
	Store Store
	// Client sends the requests. nil is a client whose dialer refuses private addresses unless the
	// subscription allows them (NewTransport). Whatever the client, redirects are never followed.
	Client *http.Client
	// Alert tells operations that a delivery was given up; it is called once per give-up.
	Alert func(ctx context.Context, title, text string)
	// Clock is the time (default time.Now).
	Clock func() time.Time
	// Logger logs attempts; it never sees a secret or a payload (default slog.Default()).
	Logger *slog.Logger
	// Concurrency bounds the attempts running at once per subscriber, in this dispatcher (default 4).
	Concurrency int
	// Timeout is how long a receiver has to answer 2xx (default 10 s).
	Timeout time.Duration
	// GiveUp is how long after its event (or its redelivery) a delivery is retried (default 72 h).
	GiveUp time.Duration
	// Backoff is the wait after the attempt-th failed attempt (default Backoff).
	Backoff func(attempt int) time.Duration
	// PollInterval is how often Run looks for due deliveries when idle (default 1 s).
	PollInterval time.Duration
	// Batch is how many deliveries one claim takes at most (default 64).
	Batch int

	once            sync.Once
	mu              sync.Mutex
	inFlight        map[string]int
	wake            chan struct{}
	public, private *http.Client
	lastClaimLog    time.Time
}

// Backoff is the default wait after the attempt-th failed attempt: 1 s × 2^(attempt-1), capped at
// MaxBackoff, with jitter (between half and all of it) so that receivers coming back are not hit by every
// retry at once.
func Backoff(attempt int) time.Duration {
	d := MaxBackoff
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 13 { // 2^12 s > 1 h
		d = min(time.Second<<(attempt-1), MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.inFlight = map[string]int{}
		d.wake = make(chan struct{}, 1)
		noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if d.Client != nil {
			c := *d.Client
			c.CheckRedirect = noRedirect
			d.public, d.private = &c, &c
		} else {
			d.public = &http.Client{Transport: NewTransport(false), CheckRedirect: noRedirect}
			d.private = &http.Client{Transport: NewTransport(true), CheckRedirect: noRedirect}
		}
		if d.Logger == nil {
			d.Logger = slog.Default()
		}
	})
}

func (d *Dispatcher) now() time.Time {
	if d.Clock != nil {
		return d.Clock().UTC()
	}
	return time.Now().UTC()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (d *Dispatcher) timeout() time.Duration { return orDefault(d.Timeout, DefaultTimeout) }

// Run delivers due deliveries until ctx ends, then waits for the attempts under way: they are cut short
// and left due at once, for the next worker. It looks for due deliveries every PollInterval, and at once
// when an attempt ends; an idle look is one indexed read.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(orDefault(d.PollInterval, DefaultPollInterval))
	defer t.Stop()
	batch := orDefault(d.Batch, DefaultBatch)
	for {
		n, err := d.dispatch(ctx, &wg)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.logClaimError(err)
		}
		if n == batch {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		}
	}
}

// DeliverDue makes one attempt of each delivery due now that the per-subscriber bound leaves room for (at
// most Batch), and waits for them; it returns how many it attempted.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	d.init()
	var wg sync.WaitGroup
	n, err := d.dispatch(ctx, &wg)
	wg.Wait()
	return n, err
}

func (d *Dispatcher) logClaimError(err error) {
	d.mu.Lock()
	quiet := time.Since(d.lastClaimLog) < time.Minute
	if !quiet {
		d.lastClaimLog = time.Now()
	}
	d.mu.Unlock()
	if !quiet {
		d.Logger.Warn("webhooks: claiming due deliveries failed", slog.Any("error", err))
	}
}

// dispatch claims due deliveries and starts an attempt of each in wg.
func (d *Dispatcher) dispatch(ctx context.Context, wg *sync.WaitGroup) (int, error) {
	concurrency := orDefault(d.Concurrency, DefaultConcurrency)
	d.mu.Lock()
	inFlight := maps.Clone(d.inFlight)
	d.mu.Unlock()
	due, err := d.Store.ClaimDeliveriesFor(ctx, d.now(), d.timeout()+leaseMargin, orDefault(d.Batch, DefaultBatch), concurrency, inFlight)
	if err != nil {
		return 0, err
	}
	for _, dd := range due {
		sub := dd.Delivery.SubscriptionID
		d.mu.Lock()
		d.inFlight[sub]++
		d.mu.Unlock()
		wg.Go(func() {
			defer d.done(sub)
			d.attempt(ctx, dd)
		})
	}
	return len(due), nil
}

func (d *Dispatcher) done(sub string) {
	d.mu.Lock()
	if d.inFlight[sub]--; d.inFlight[sub] <= 0 {
		delete(d.inFlight, sub)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// attempt sends one claimed delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, dd db.DueDelivery) {
	del, ev, sub := &dd.Delivery, &dd.Event, &dd.Subscription
	start := time.Now()
	status, sendErr := d.Send(ctx, sub, ev)
	took := time.Since(start)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := d.now()
	log := d.Logger.With(slog.String("delivery_id", del.ID), slog.String("event_id", ev.ID), slog.String("type", ev.Type),
		slog.String("subscription_id", sub.ID), slog.String("host", host(sub.URL)), slog.Int("attempt", del.Attempts))
	if sendErr == nil {
		metrics.WebhookAttempt(metrics.WebhookDelivered, took)
		if err := d.instructRefund(rctx, ev, now); err != nil {
			// Not recorded: the delivery's lease runs out and it is sent again, which a receiver deduplicates.
			log.Error("webhooks: delivered, but recording the refund instructed failed", slog.Any("error", err))
			return
		}
		if err := d.Store.CompleteDelivery(rctx, del.ID, status, now); err != nil {
			log.Error("webhooks: delivered, but recording it failed", slog.Any("error", err))
			return
		}
		log.Debug("webhooks: delivered", slog.Int("status", status))
		return
	}
	errText := sendErr.Error()
	if ctx.Err() != nil { // the worker is stopping: due again at once, for whichever worker runs next
		metrics.WebhookAttempt(metrics.WebhookInterrupted, took)
		if err := d.Store.RetryDelivery(rctx, del.ID, status, "attempt cut short: the worker stopped", now); err != nil {
			log.Warn("webhooks: recording an interrupted attempt failed", slog.Any("error", err))
		}
		return
	}
	deadline := giveUpFrom(del, ev).Add(orDefault(d.GiveUp, DefaultGiveUp))
	if !now.Before(deadline) {
		metrics.WebhookAttempt(metrics.WebhookFailed, took)
		first, err := d.Store.FailDelivery(rctx, del.ID, status, errText, now)
		if err != nil {
			log.Error("webhooks: giving a delivery up failed", slog.Any("error", err))
			return
		}
		log.Error("webhooks: delivery given up", slog.Int("status", status), slog.String("error", errText))
		if first && d.Alert != nil {
			d.Alert(rctx, fmt.Sprintf("webhook delivery failed: %s for %s to %s: %s", ev.Type, ev.CaseID, host(sub.URL), errText),
				fmt.Sprintf("Delivery %s of event %s (case %s, sequence %d) to subscription %s was given up after %d attempts in %s. "+
					"Once the receiver is fixed, send it again: steward webhooks redeliver %s",
					del.ID, ev.ID, ev.CaseID, ev.Sequence, sub.ID, del.Attempts, orDefault(d.GiveUp, DefaultGiveUp), del.ID))
		}
		return
	}
	metrics.WebhookAttempt(metrics.WebhookRetry, took)
	backoff := d.Backoff
	if backoff == nil {
		backoff = Backoff
	}
	next := now.Add(backoff(del.Attempts))
	if next.After(deadline) {
		next = deadline // the last attempt is at the deadline
	}
	if err := d.Store.RetryDelivery(rctx, del.ID, status, errText, next); err != nil {
		log.Error("webhooks: recording a failed attempt failed", slog.Any("error", err))
		return
	}
	log.Info("webhooks: attempt failed, will retry", slog.Int("status", status), slog.String("error", errText), slog.Time("next_attempt_at", next))
}

// giveUpFrom is when a delivery's retries started: its event's time, or its redelivery.
func giveUpFrom(del *db.WebhookDelivery, ev *db.WebhookEvent) time.Time {
	if del.CreatedAt.After(ev.CreatedAt) {
		return del.CreatedAt
	}
	return ev.CreatedAt
}

// instructRefund marks the refund of a delivered refund.owed event instructed.
func (d *Dispatcher) instructRefund(ctx context.Context, ev *db.WebhookEvent, at time.Time) error {
	if ev.Type != workflows.WebhookRefundOwed {
		return nil
	}
	var env struct {
		Data struct {
			RefundID string `json:"refund_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ev.Payload, &env); err != nil || env.Data.RefundID == "" {
		d.Logger.Error("webhooks: a refund.owed event without a refund id", slog.String("event_id", ev.ID))
		return nil
	}
	if err := d.Store.MarkRefundInstructed(ctx, env.Data.RefundID, at); err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	return nil
}

// Send POSTs event ev to subscription sub once, signed with sub's secret — and with the previous one too,
// comma-separated, while a rotation's overlap lasts (db.WebhookSubscription.SigningSecrets) — and returns the receiver's
// status. The error is nil exactly when the receiver answered 2xx within the timeout; it says why
// otherwise, in words fit to store and show operators (no secret, no payload).
func (d *Dispatcher) Send(ctx context.Context, sub *db.WebhookSubscription, ev *db.WebhookEvent) (int, error) {
	d.init()
	timeout := d.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, err := checkURL(ctx, net.DefaultResolver, sub.URL, sub.AllowPrivate)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, fmt.Errorf("timeout after %s resolving the host", timeout)
		}
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(ev.Payload))
	if err != nil {
		return 0, errors.New("cannot build the request")
	}
	ts := d.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEventType, ev.Type)
	req.Header.Set(signing.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	// During a rotation's overlap the delivery carries a signature with each secret, the current one first.
	req.Header.Set(signing.HeaderSignature, signing.V2All(sub.SigningSecrets(ts), ts, http.MethodPost, u.RequestURI(), ev.Payload))
	client := d.public
	if sub.AllowPrivate {
		client = d.private
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, describe(ctx, err, timeout)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return code, nil
	case code >= 300 && code < 400:
		return code, fmt.Errorf("HTTP %d: redirects are not followed", code)
	default:
		return code, fmt.Errorf("HTTP %d", code)
	}
}

// describe says why a request failed, without its URL (whose query may hold a receiver's token).
func describe(ctx context.Context, err error, timeout time.Duration) error {
	var ne net.Error
	if ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("timeout after %s without an answer", timeout)
	}
	if ctx.Err() != nil {
		return errors.New("attempt cut short")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("connection failed: %v", err)
}

// host is the host of a subscription URL, for logs and alerts (never its path or query).
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Host
}
