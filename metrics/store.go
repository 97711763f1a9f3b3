package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steward-oss/steward/db"
)

// storeCollector reads the business figures from the database at a scrape (or reuses the last read for
// CacheFor): exact whatever process recorded them, and the same after a restart.
type storeCollector struct {
	store    *db.Store
	cacheFor time.Duration
	timeout  time.Duration
	logger   *slog.Logger
	now      func() time.Time

	mu     sync.Mutex
	last   []prometheus.Metric
	readAt time.Time
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	descUp             = desc("store_up", "1 when the last read of the database for these metrics succeeded, else 0.")
	descReadSeconds    = desc("store_read_duration_seconds", "Time the last read of the database for these metrics took.")
	descCasesOpened    = desc("cases_opened_total", "Cases opened, by service (from the cases table).", "service")
	descCasesClosed    = desc("cases_closed_total", "Cases ended, by service and outcome: the stage they ended in (closed, expired, cancelled).", "service", "outcome")
	descCasesOpen      = desc("cases_open", "Cases open now, by service and stage.", "service", "stage")
	descClocksStarted  = desc("sla_clocks_started_total", "SLA clocks started, by service and clause (from sla_clocks).", "service", "clause")
	descClocksMet      = desc("sla_clocks_met_total", "SLA clocks met, by service and clause.", "service", "clause")
	descClocksBreached = desc("sla_clocks_breached_total", "SLA clocks breached, by service and clause.", "service", "clause")
	descClocksOpen     = desc("sla_clocks_open", "SLA clocks running or paused and not breached, by service and clause.", "service", "clause")
	descRefundsOwed    = desc("refunds_owed_cents_total", "Refunds owed to customers, in cents of the order's currency, whatever became of them since.", "currency")
	descRefundsPaid    = desc("refunds_paid_cents_total", "Refunds the marketplace reported paid, in cents.", "currency")
	descRefundsWaived  = desc("refunds_waived_cents_total", "Refunds a manager waived, in cents.", "currency")
	descRefundsUnpaid  = desc("refunds_unpaid_cents", "Refunds owed or instructed and not yet paid, in cents.", "currency")
	descNotifications  = desc("notifications_total", "Notifications by final status: sent, or failed (given up) (from the notifications outbox).", "status")
	descNotifPending   = desc("notifications_pending", "Notifications recorded and not yet delivered nor given up.")
	descNotifAge       = desc("notifications_oldest_pending_age_seconds", "Age of the oldest pending notification; 0 when none is pending.")
	descDeliveries     = desc("webhook_deliveries_total", "Webhook deliveries by final state: delivered, or failed (given up) (from webhook_deliveries).", "state")
	descDelivPending   = desc("webhook_deliveries_pending", "Webhook deliveries waiting to be delivered (first attempt or retry).")
	descDelivAge       = desc("webhook_deliveries_oldest_pending_age_seconds", "Age of the oldest pending webhook delivery (since its event or redelivery); 0 when none is pending.")
)

func newStoreCollector(o Options) *storeCollector {
	c := &storeCollector{store: o.Store, cacheFor: o.CacheFor, timeout: o.Timeout, logger: o.Logger, now: time.Now}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// Describe sends every descriptor, so the registry checks them.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descReadSeconds, descCasesOpened, descCasesClosed, descCasesOpen, descClocksStarted,
		descClocksMet, descClocksBreached, descClocksOpen, descRefundsOwed, descRefundsPaid, descRefundsWaived, descRefundsUnpaid,
		descNotifications, descNotifPending, descNotifAge, descDeliveries, descDelivPending, descDelivAge} {
		ch <- d
	}
}

// Collect sends the figures of the last read, reading again when it is older than cacheFor. A failed read
// sends store_up 0 and nothing else.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.last == nil || c.cacheFor <= 0 || now.Sub(c.readAt) >= c.cacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		ms, err := c.read(ctx, now)
		cancel()
		took := c.now().Sub(now).Seconds()
		if err != nil {
			c.logger.Warn("metrics: reading the database failed", slog.Any("error", err))
			c.last = nil
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
			ch <- prometheus.MustNewConstMetric(descReadSeconds, prometheus.GaugeValue, took)
			return
		}
		c.last = append(ms, prometheus.MustNewConstMetric(descReadSeconds, prometheus.GaugeValue, took),
			prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1))
		c.readAt = now
	}
	for _, m := range c.last {
		ch <- m
	}
}

// read queries every figure; now is the time the ages are measured at.
func (c *storeCollector) read(ctx context.Context, now time.Time) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, t, v, labels...))
	}
	s := c.store

	var cases []struct {
		Service string `bun:"service"`
		Stage   string `bun:"stage"`
		Status  string `bun:"status"`
		N       int64  `bun:"n"`
	}
	if err := s.NewSelect().TableExpr("cases").ColumnExpr("service, stage, status, COUNT(*) AS n").
		GroupExpr("service, stage, status").Scan(ctx, &cases); err != nil {
		return nil, err
	}
	opened := map[string]int64{}
	closed := map[[2]string]int64{}
	for _, r := range cases {
		opened[r.Service] += r.N
		if r.Status == "closed" {
			closed[[2]string{r.Service, r.Stage}] += r.N
		} else {
			emit(descCasesOpen, prometheus.GaugeValue, float64(r.N), r.Service, r.Stage)
		}
	}
	for svc, n := range opened {
		emit(descCasesOpened, prometheus.CounterValue, float64(n), svc)
	}
	for k, n := range closed {
		emit(descCasesClosed, prometheus.CounterValue, float64(n), k[0], k[1])
	}

	var clocks []struct {
		Service string `bun:"service"`
		Clause  string `bun:"clause"`
		State   string `bun:"state"`
		Status  string `bun:"status"`
		N       int64  `bun:"n"`
	}
	if err := s.NewSelect().TableExpr("sla_clocks").ColumnExpr("service, clause, state, status, COUNT(*) AS n").
		GroupExpr("service, clause, state, status").Scan(ctx, &clocks); err != nil {
		return nil, err
	}
	type sc = [2]string
	started, met, breached, open := map[sc]int64{}, map[sc]int64{}, map[sc]int64{}, map[sc]int64{}
	for _, r := range clocks {
		k := sc{r.Service, r.Clause}
		started[k] += r.N
		switch {
		case r.Status == "met":
			met[k] += r.N
		case r.Status == "breached":
			breached[k] += r.N
		case r.State == "running" || r.State == "paused":
			open[k] += r.N
		}
	}
	for k, n := range started {
		emit(descClocksStarted, prometheus.CounterValue, float64(n), k[0], k[1])
		emit(descClocksMet, prometheus.CounterValue, float64(met[k]), k[0], k[1])
		emit(descClocksBreached, prometheus.CounterValue, float64(breached[k]), k[0], k[1])
		emit(descClocksOpen, prometheus.GaugeValue, float64(open[k]), k[0], k[1])
	}

	var refunds []struct {
		Currency string `bun:"currency"`
		State    string `bun:"state"`
		Cents    int64  `bun:"cents"`
	}
	if err := s.NewSelect().TableExpr("refunds AS r").
		ColumnExpr("COALESCE(o.currency, '') AS currency, r.state AS state, COALESCE(SUM(r.amount_cents), 0) AS cents").
		Join("LEFT JOIN cases AS c ON c.case_id = r.case_id").
		Join("LEFT JOIN orders AS o ON o.order_id = c.order_id").
		GroupExpr("COALESCE(o.currency, ''), r.state").Scan(ctx, &refunds); err != nil {
		return nil, err
	}
	owed, paid, waived, unpaid := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, r := range refunds {
		owed[r.Currency] += r.Cents
		switch r.State {
		case db.RefundPaid:
			paid[r.Currency] += r.Cents
		case db.RefundWaived:
			waived[r.Currency] += r.Cents
		default:
			unpaid[r.Currency] += r.Cents
		}
	}
	for cur, n := range owed {
		emit(descRefundsOwed, prometheus.CounterValue, float64(n), cur)
		emit(descRefundsPaid, prometheus.CounterValue, float64(paid[cur]), cur)
		emit(descRefundsWaived, prometheus.CounterValue, float64(waived[cur]), cur)
		emit(descRefundsUnpaid, prometheus.GaugeValue, float64(unpaid[cur]), cur)
	}

	var notes []struct {
		Status string `bun:"status"`
		N      int64  `bun:"n"`
	}
	if err := s.NewSelect().TableExpr("notifications").ColumnExpr("status, COUNT(*) AS n").GroupExpr("status").Scan(ctx, &notes); err != nil {
		return nil, err
	}
	byStatus := map[string]int64{}
	for _, r := range notes {
		byStatus[r.Status] += r.N
	}
	emit(descNotifications, prometheus.CounterValue, float64(byStatus[db.NotificationSent]), db.NotificationSent)
	emit(descNotifications, prometheus.CounterValue, float64(byStatus[db.NotificationFailed]), db.NotificationFailed)
	emit(descNotifPending, prometheus.GaugeValue, float64(byStatus[db.NotificationPending]))
	var oldestNote []db.Notification
	if err := s.NewSelect().Model(&oldestNote).Column("key", "created_at").Where("status = ?", db.NotificationPending).
		Order("created_at ASC").Limit(1).Scan(ctx); err != nil {
		return nil, err
	}
	emit(descNotifAge, prometheus.GaugeValue, age(now, oldestNote, func(n db.Notification) time.Time { return n.CreatedAt }))

	var dels []struct {
		State string `bun:"state"`
		N     int64  `bun:"n"`
	}
	if err := s.NewSelect().TableExpr("webhook_deliveries").ColumnExpr("state, COUNT(*) AS n").GroupExpr("state").Scan(ctx, &dels); err != nil {
		return nil, err
	}
	byState := map[string]int64{}
	for _, r := range dels {
		byState[r.State] += r.N
	}
	emit(descDeliveries, prometheus.CounterValue, float64(byState[db.DeliveryDelivered]), db.DeliveryDelivered)
	emit(descDeliveries, prometheus.CounterValue, float64(byState[db.DeliveryFailed]), db.DeliveryFailed)
	emit(descDelivPending, prometheus.GaugeValue, float64(byState[db.DeliveryPending]))
	var oldestDel []db.WebhookDelivery
	if err := s.NewSelect().Model(&oldestDel).Column("id", "created_at").Where("state = ?", db.DeliveryPending).
		Order("created_at ASC").Limit(1).Scan(ctx); err != nil {
		return nil, err
	}
	emit(descDelivAge, prometheus.GaugeValue, age(now, oldestDel, func(d db.WebhookDelivery) time.Time { return d.CreatedAt }))
	return out, nil
}

// age is how long before now the first row's time was, in seconds; 0 for no row.
func age[T any](now time.Time, rows []T, at func(T) time.Time) float64 {
	if len(rows) == 0 {
		return 0
	}
	return max(now.Sub(at(rows[0])).Seconds(), 0)
}
