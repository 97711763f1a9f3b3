package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"sync/atomic"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// webhookSecret signs the battery receiver's deliveries.
const webhookSecret = "whsec_reliability_battery_0123456789"

// webhookStats is what the webhook receiver and the outbox show after the run.
type webhookStats struct {
	Subscribed bool

	Events, SequenceGaps       int // outbox events; per case, sequence numbers other than 1..n
	RowsWithoutEvent, Orphans  int // timeline rows and refunds without their event; events without their row
	Requests, Served500, Hung  int
	BadSignatures, Malformed   int
	Deliveries, Retries        int // 2xx answers; of them, for an event accepted before
	Missing                    int // outbox events the receiver never accepted
	OutOfOrder                 int // after dedup, per case by sequence, not the outbox's order
	ArrivedLate                int // accepted after a later event of its case (a receiver reorders them)
	BodyMismatch, Unexpected   int // a body other than the outbox payload; an accepted id not in the outbox
	Delivered, Pending, Failed int // the subscription's deliveries in the database
	RefundsOwed, RefundsPaid   int
	RefundsInstructed          int // instructed or paid: the refund.owed event reached the marketplace
	PayCalls, PayRefused       int // the marketplace bot's POST /v1/refunds/{id}/paid; answered other than 200
	PayUnavailable             bool
	Drain                      time.Duration // from the last case's end until every event was accepted
	Drained                    bool
}

// marketBot is the marketplace's side of refunds: each refund.owed it receives, it pays and reports with a
// signed POST /v1/refunds/{id}/paid (the same paid_at and reference on every retry).
type marketBot struct {
	client      *Client
	inFlight    atomic.Int64
	calls       atomic.Int64
	refused     atomic.Int64
	unavailable atomic.Bool
}

// subscribeWebhooks starts the receiver and subscribes it to every event with the operator's CLI, before
// any case exists.
func (b *battery) subscribeWebhooks(ctx context.Context, bin string, env []string, market *Client) {
	t := b.t
	b.hooks = NewWebhookReceiver(b.plan.WebhookFail, b.plan.WebhookHang, 30*time.Second)
	t.Cleanup(b.hooks.Close)
	b.hooks.SetSecret(webhookSecret)
	b.market = &marketBot{client: market}
	b.hooks.OnAccepted = func(a WebhookArrival) {
		if a.Type == workflows.WebhookRefundOwed {
			b.market.pay(ctx, b, a)
		}
	}
	cmd := exec.CommandContext(ctx, bin, "webhooks", "add", "-url", b.hooks.URL(), "-events", "*", "-secret", webhookSecret, "-allow-private")
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("steward webhooks add: %v\n%s", err, out)
	}
	b.webhooksOn = true
	b.logEvent("webhook receiver %s subscribed to every event (fails %.1f%%, hangs %.1f%% of requests)", b.hooks.URL(),
		100*b.plan.WebhookFail, 100*b.plan.WebhookHang)
}

// pay reports the refund of a refund.owed event paid.
func (m *marketBot) pay(ctx context.Context, b *battery, a WebhookArrival) {
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	var data struct {
		RefundID string `json:"refund_id"`
	}
	if err := json.Unmarshal(a.Data, &data); err != nil || data.RefundID == "" {
		m.refused.Add(1)
		b.logEvent("refund.owed %s without a refund_id: %s", a.ID, a.Data)
		return
	}
	body, _ := json.Marshal(map[string]string{"paid_at": time.Now().UTC().Format(time.RFC3339), "reference": "REL-PAY-" + data.RefundID})
	cctx, cancel := context.WithTimeout(ctx, b.plan.CaseTimeout)
	defer cancel()
	m.calls.Add(1)
	res, err := m.client.call(cctx, http.MethodPost, "/v1/refunds/"+data.RefundID+"/paid", body, m.client.signed(), "Idempotency-Key", "pay-"+data.RefundID)
	switch {
	case err != nil:
		m.refused.Add(1)
		b.logEvent("marketplace bot could not report %s paid: %v", data.RefundID, err)
	case res.Status == http.StatusNotFound && !bytes.Contains(res.Body, []byte(data.RefundID)):
		m.unavailable.Store(true) // the route itself is missing
	case res.Status != http.StatusOK:
		m.refused.Add(1)
		b.logEvent("marketplace bot reporting %s paid: %d %s", data.RefundID, res.Status, res.Body)
	}
}

// verifyWebhooks waits, up to plan.WebhookWait after the last case ended, until the receiver has accepted
// every event of the outbox, no delivery is pending and the bot has reported every refund paid; then it
// compares what arrived with the outbox.
func (b *battery) verifyWebhooks(ctx context.Context) webhookStats {
	t := b.t
	w := webhookStats{Subscribed: b.webhooksOn}
	if !b.webhooksOn {
		return w
	}
	start := time.Now()
	deadline := start.Add(b.plan.WebhookWait)
	var (
		events   []db.WebhookEvent
		pending  int
		refunds  []db.Refund
		received WebhookReceiverStats
	)
	load := func() error {
		events, refunds = nil, nil
		if err := b.store.NewSelect().Model(&events).Order("case_id ASC", "sequence ASC").Scan(ctx); err != nil {
			return err
		}
		if err := b.store.NewSelect().Model(&refunds).Scan(ctx); err != nil {
			return err
		}
		n, err := b.store.NewSelect().Model((*db.WebhookDelivery)(nil)).Where("state = ?", db.DeliveryPending).Count(ctx)
		pending = int(n)
		received = b.hooks.Stats()
		return err
	}
	for {
		if err := load(); err != nil {
			t.Logf("webhooks: reading the outbox: %v", err)
		} else {
			missing := 0
			for _, e := range events {
				if received.Accepted[e.ID] == 0 {
					missing++
				}
			}
			paid := 0
			for _, r := range refunds {
				if r.State == db.RefundPaid {
					paid++
				}
			}
			paysDone := b.market.inFlight.Load() == 0 && (b.market.unavailable.Load() || paid+int(b.market.refused.Load()) >= len(refunds))
			if missing == 0 && pending == 0 && paysDone {
				w.Drained = true
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Logf("webhooks: after %s, %d events not received, %d deliveries pending, %d of %d refunds paid", b.plan.WebhookWait, missing, pending, paid, len(refunds))
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	w.Drain = time.Since(start)
	b.logEvent("webhooks: %s after the last case ended, every event accepted: %v", w.Drain.Round(100*time.Millisecond), w.Drained)

	w.Events = len(events)
	w.Requests, w.Served500, w.Hung, w.BadSignatures, w.Malformed = received.Requests, received.Served500, received.Hung, received.BadSig, received.Malformed
	w.Deliveries, w.Retries = received.Deliveries, received.Retries

	// The outbox: each case numbered 1..n, each public timeline row and refund with its event, and back.
	byCase := map[string][]db.WebhookEvent{}
	byID := map[string]db.WebhookEvent{}
	keys := map[string]bool{}
	for _, e := range events {
		byCase[e.CaseID] = append(byCase[e.CaseID], e)
		byID[e.ID] = e
		keys[e.Key] = true
	}
	for caseID, es := range byCase {
		for i, e := range es {
			if e.Sequence != int64(i+1) {
				w.SequenceGaps++
				t.Logf("webhooks: %s: event %d of the outbox has sequence %d", caseID, i+1, e.Sequence)
				break
			}
		}
	}
	rowKeys := map[string]bool{}
	for _, o := range b.orderCases() {
		rows, err := b.store.ListEvents(ctx, o)
		if err != nil {
			t.Errorf("webhooks: timeline of %s: %v", o, err)
			continue
		}
		for _, r := range rows {
			if _, public := workflows.WebhookType(workflows.Event(r.Event)); public {
				rowKeys[r.Key] = true
			}
		}
	}
	for _, r := range refunds {
		rowKeys[r.Key+"/"+workflows.WebhookRefundOwed] = true
		if r.State == db.RefundPaid {
			rowKeys[r.Key+"/"+workflows.WebhookRefundPaid] = true
		}
		if r.State == db.RefundInstructed || r.State == db.RefundPaid {
			w.RefundsInstructed++
		}
		if r.State == db.RefundPaid {
			w.RefundsPaid++
		}
	}
	w.RefundsOwed = len(refunds)
	for k := range rowKeys {
		if !keys[k] {
			w.RowsWithoutEvent++
			t.Logf("webhooks: %s has no event in the outbox", k)
		}
	}
	for k := range keys {
		if !rowKeys[k] {
			w.Orphans++
			t.Logf("webhooks: outbox event %s has no timeline row or refund", k)
		}
	}

	// The receiver: every event once after dedup, with the outbox's body, in the outbox's order per case.
	for _, e := range events {
		if received.Accepted[e.ID] == 0 {
			w.Missing++
			t.Logf("webhooks: %s (%s, %s #%d) never accepted", e.ID, e.Type, e.CaseID, e.Sequence)
		}
	}
	arrived := map[string][]WebhookArrival{}
	for _, a := range received.Arrivals {
		e, ok := byID[a.ID]
		if !ok {
			w.Unexpected++
			t.Logf("webhooks: accepted %s (%s), which is not in the outbox", a.ID, a.Type)
			continue
		}
		if !bytes.Equal(a.Body, e.Payload) {
			w.BodyMismatch++
			t.Logf("webhooks: %s arrived as %s; the outbox holds %s", a.ID, a.Body, e.Payload)
		}
		arrived[a.CaseID] = append(arrived[a.CaseID], a)
	}
	for caseID, as := range arrived {
		var latest int64
		for _, a := range as {
			if a.Sequence < latest {
				w.ArrivedLate++
			}
			latest = max(latest, a.Sequence)
		}
		sorted := slices.Clone(as)
		slices.SortStableFunc(sorted, func(x, y WebhookArrival) int { return int(x.Sequence - y.Sequence) })
		outbox := byCase[caseID]
		for _, a := range sorted {
			if i := int(a.Sequence) - 1; i < 0 || i >= len(outbox) || outbox[i].ID != a.ID {
				w.OutOfOrder++
				t.Logf("webhooks: %s: %s arrived with sequence %d, which the outbox gives another event", caseID, a.ID, a.Sequence)
			}
		}
		for i := 1; i < len(sorted); i++ {
			if sorted[i].Sequence == sorted[i-1].Sequence {
				w.OutOfOrder++
				t.Logf("webhooks: %s: %s and %s share sequence %d", caseID, sorted[i-1].ID, sorted[i].ID, sorted[i].Sequence)
			}
		}
	}

	var ds []db.WebhookDelivery
	if err := b.store.NewSelect().Model(&ds).Scan(ctx); err != nil {
		t.Errorf("webhooks: deliveries: %v", err)
	}
	for _, d := range ds {
		switch d.State {
		case db.DeliveryDelivered:
			w.Delivered++
		case db.DeliveryPending:
			w.Pending++
		case db.DeliveryFailed:
			w.Failed++
			t.Logf("webhooks: delivery %s of %s failed: %s", d.ID, d.EventID, d.LastError)
		}
	}
	w.PayCalls, w.PayRefused, w.PayUnavailable = int(b.market.calls.Load()), int(b.market.refused.Load()), b.market.unavailable.Load()
	return w
}

// orderCases lists the case ids of the orders the bots placed, and of the timer cases.
func (b *battery) orderCases() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(b.orders)+len(b.timers.orders))
	for _, o := range append(slices.Clone(b.orders), b.timers.orders...) {
		ids = append(ids, workflows.CaseWorkflowID(workflows.ServiceSOS, o.OrderID))
	}
	return ids
}

// markdownRows are the webhook figures of the report.
func (w webhookStats) markdownRows(row func(name string, v any)) {
	if !w.Subscribed {
		row("webhooks", "not run")
		return
	}
	row("webhook events in the outbox / cases with a sequence gap", fmt.Sprintf("%d / %d", w.Events, w.SequenceGaps))
	row("timeline rows and refunds without their event / events without their row", fmt.Sprintf("%d / %d", w.RowsWithoutEvent, w.Orphans))
	row("webhook requests / answered 500 / hung past the timeout / signature failures", fmt.Sprintf("%d / %d / %d / %d", w.Requests, w.Served500, w.Hung, w.BadSignatures))
	row("webhook deliveries accepted / retries (an id accepted again)", fmt.Sprintf("%d / %d", w.Deliveries, w.Retries))
	row("webhook events missing at the receiver", w.Missing)
	row("webhook events out of order after dedup (per case, by sequence)", w.OutOfOrder)
	row("webhook events that arrived after a later one of their case (informational)", w.ArrivedLate)
	row("webhook bodies unlike the outbox / malformed / unexpected ids", fmt.Sprintf("%d / %d / %d", w.BodyMismatch, w.Malformed, w.Unexpected))
	row("webhook deliveries in the database: delivered / pending / failed", fmt.Sprintf("%d / %d / %d", w.Delivered, w.Pending, w.Failed))
	if w.PayUnavailable {
		row("refunds paid / owed", "not run (POST /v1/refunds/{id}/paid is not available)")
	} else {
		row("refunds owed / told to the marketplace (instructed or paid) / paid by the marketplace bot", fmt.Sprintf("%d / %d / %d", w.RefundsOwed, w.RefundsInstructed, w.RefundsPaid))
		row("marketplace bot's paid reports / refused", fmt.Sprintf("%d / %d", w.PayCalls, w.PayRefused))
	}
	drain := w.Drain.Round(100 * time.Millisecond).String()
	if !w.Drained {
		drain = "not drained after " + drain
	}
	row("wait for the last webhook after the last case ended", drain)
}
