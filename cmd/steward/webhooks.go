package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/customer"
	"github.com/steward-oss/steward/webhooks"
)

const webhooksUsage = `steward webhooks manages the subscribers of the event webhooks (DATABASE_URL):
  add -url URL -events TYPE,TYPE|* [-secret S] [-allow-private]   subscribe URL; prints its id and secret once
  list                                                             the subscriptions (never their secrets)
  disable ID                                                       stop sending to a subscription
  rotate ID [-secret S] [-overlap 24h]                             give it a new secret, prints it once; the old one signs beside it for -overlap
  test ID                                                          send it one signed webhook.test event now
  deliveries [-state pending|delivered|failed] [-subscription ID] [-case ID] [-limit N]
  redeliver DELIVERY_ID                                            send a delivery again, same event id
`

func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, webhooksUsage)
		return errors.New("webhooks: add, list, disable, rotate, test, deliveries or redeliver")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("webhooks "+sub, stderr)
	var (
		dsn, rawURL, events, secret, state, subID, caseID string
		allowPrivate                                      bool
		limit, positional                                 int
		overlap                                           = defaultWebhookOverlap
	)
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	switch sub {
	case "add":
		f.StringVar(&rawURL, "url", "", "the receiver's http(s) URL")
		f.StringVar(&events, "events", "", "comma-separated event types, or * for all (see docs/webhooks.md)")
		f.StringVar(&secret, "secret", "", "the signing secret (at least 16 characters; generated when omitted)")
		f.BoolVar(&allowPrivate, "allow-private", false, "allow a URL that resolves to a loopback or private address")
	case "rotate":
		f.StringVar(&secret, "secret", "", "the new secret (generated when omitted)")
		f.Var(days{&overlap}, "overlap", "how long deliveries carry a signature with the old secret too, so the receiver can switch at any moment: a duration (24h) or days; 0 drops the old secret now")
		positional = 1
	case "disable", "test", "redeliver":
		positional = 1
	case "list":
	case "deliveries":
		f.StringVar(&state, "state", "", "only deliveries in this state: pending, delivered or failed")
		f.StringVar(&subID, "subscription", "", "only this subscription's deliveries")
		f.StringVar(&caseID, "case", "", "only this case's deliveries")
		f.IntVar(&limit, "limit", 50, "at most this many, the most recent first")
	case "-h", "--help", "help":
		fmt.Fprint(stdout, webhooksUsage)
		return nil
	default:
		fmt.Fprint(stderr, webhooksUsage)
		return fmt.Errorf("webhooks: unknown subcommand %q", sub)
	}
	pos, err := parseInterspersed(f, rest)
	if err != nil {
		return err
	}
	if len(pos) != positional {
		if positional == 1 {
			return fmt.Errorf("webhooks %s: give one id", sub)
		}
		return fmt.Errorf("webhooks %s: unexpected argument %q", sub, pos[0])
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	w := webhookAdmin{store: store, out: stdout}
	switch sub {
	case "add":
		return w.add(ctx, rawURL, events, secret, allowPrivate)
	case "list":
		return w.list(ctx)
	case "disable":
		return w.disable(ctx, pos[0])
	case "rotate":
		return w.rotate(ctx, pos[0], secret, overlap)
	case "test":
		return w.test(ctx, pos[0])
	case "deliveries":
		return w.deliveries(ctx, db.DeliveryFilter{State: state, SubscriptionID: subID, CaseID: caseID, Limit: limit})
	default: // redeliver
		return w.redeliver(ctx, pos[0])
	}
}

// parseInterspersed parses flags that may come after the positional arguments (`disable ID -database-url
// …`) and returns the positional ones.
func parseInterspersed(f flags, args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// webhookAdmin carries out `steward webhooks` subcommands on a store.
type webhookAdmin struct {
	store *db.Store
	out   io.Writer
	now   func() time.Time
}

func (w webhookAdmin) time() time.Time {
	if w.now != nil {
		return w.now().UTC()
	}
	return time.Now().UTC()
}

func (w webhookAdmin) add(ctx context.Context, rawURL, events, secret string, allowPrivate bool) error {
	if rawURL == "" || events == "" {
		return errors.New("webhooks add: -url and -events are required")
	}
	sub, err := webhooks.NewSubscription(rawURL, events, secret, allowPrivate, w.time())
	if err != nil {
		return fmt.Errorf("webhooks add: %w", err)
	}
	if err := w.store.AddWebhookSubscription(ctx, sub); err != nil {
		return fmt.Errorf("webhooks add: %w", err)
	}
	fmt.Fprintf(w.out, "subscription %s added: %s gets %s.\nIts signing secret is shown once; store it now:\n%s\n",
		sub.ID, sub.URL, strings.Join(sub.Events, ","), sub.Secret)
	return nil
}

func (w webhookAdmin) list(ctx context.Context) error {
	subs, err := w.store.ListWebhookSubscriptions(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tSTATE\tPRIVATE\tCREATED")
	for _, s := range subs {
		state := "enabled"
		if s.DisabledAt != nil {
			state = "disabled " + s.DisabledAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", s.ID, s.URL, strings.Join(s.Events, ","), state, s.AllowPrivate, s.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (w webhookAdmin) disable(ctx context.Context, id string) error {
	if err := w.store.DisableWebhookSubscription(ctx, id, w.time()); err != nil {
		return fmt.Errorf("webhooks disable: %w", err)
	}
	fmt.Fprintf(w.out, "subscription %s disabled; its pending deliveries are given up\n", id)
	return nil
}

// defaultWebhookOverlap is how long, by default, a rotated subscription secret keeps signing beside the new one.
const defaultWebhookOverlap = 24 * time.Hour

func (w webhookAdmin) rotate(ctx context.Context, id, secret string, overlap time.Duration) error {
	if secret == "" {
		secret = webhooks.NewSecret()
	}
	if len(secret) < webhooks.MinSecretLen {
		return fmt.Errorf("webhooks rotate: -secret: at least %d characters", webhooks.MinSecretLen)
	}
	if overlap < 0 {
		return errors.New("webhooks rotate: -overlap cannot be negative")
	}
	now := w.time()
	if err := w.store.RotateWebhookSecretOverlap(ctx, id, secret, now, now.Add(overlap)); err != nil {
		return fmt.Errorf("webhooks rotate: %w", err)
	}
	if overlap > 0 {
		fmt.Fprintf(w.out, "subscription %s has a new secret. Until %s every delivery, pending ones included, carries two signatures, "+
			"with the new secret and with the old one (X-Steward-Signature: v2=…,v2=…): switch the receiver to the new secret before then.\n", id, now.Add(overlap).Format(time.RFC3339))
	} else {
		fmt.Fprintf(w.out, "subscription %s has a new secret; deliveries are signed with it alone from now on, pending ones included.\n", id)
	}
	fmt.Fprintf(w.out, "It is shown once; store it now:\n%s\n", secret)
	return nil
}

func (w webhookAdmin) test(ctx context.Context, id string) error {
	sub, err := w.store.GetWebhookSubscription(ctx, id)
	if err != nil {
		return fmt.Errorf("webhooks test: %w", err)
	}
	ev := webhooks.TestEvent(w.time())
	d := &webhooks.Dispatcher{Clock: w.now, Logger: slog.New(slog.DiscardHandler)}
	start := time.Now()
	status, err := d.Send(ctx, sub, ev)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		fmt.Fprintf(w.out, "%s: event %s not delivered after %s: %v\n", sub.ID, ev.ID, took, err)
		return fmt.Errorf("webhooks test: %s did not answer 2xx", sub.ID)
	}
	fmt.Fprintf(w.out, "%s: event %s delivered: HTTP %d in %s\n", sub.ID, ev.ID, status, took)
	return nil
}

func (w webhookAdmin) deliveries(ctx context.Context, f db.DeliveryFilter) error {
	switch f.State {
	case "", db.DeliveryPending, db.DeliveryDelivered, db.DeliveryFailed:
	default:
		return fmt.Errorf("webhooks deliveries: -state is pending, delivered or failed, not %q", f.State)
	}
	ds, err := w.store.ListDeliveries(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tCASE\tSEQ\tSUBSCRIPTION\tSTATE\tATTEMPTS\tLAST\tNEXT/AT")
	for _, d := range ds {
		typ, caseID, seq := "?", "?", ""
		if ev, err := w.store.GetWebhookEvent(ctx, d.EventID); err == nil {
			typ, caseID, seq = ev.Type, ev.CaseID, strconv.FormatInt(ev.Sequence, 10)
		}
		last := d.LastError
		if last == "" && d.LastStatus != 0 {
			last = "HTTP " + strconv.Itoa(d.LastStatus)
		}
		at := d.NextAttemptAt
		switch {
		case d.DeliveredAt != nil:
			at = *d.DeliveredAt
		case d.FailedAt != nil:
			at = *d.FailedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.EventID, typ, caseID, seq, d.SubscriptionID, d.State,
			d.Attempts, orDash(last), at.Format(time.RFC3339))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (w webhookAdmin) redeliver(ctx context.Context, id string) error {
	d, err := w.store.RedeliverDelivery(ctx, id, w.time())
	if err != nil {
		return fmt.Errorf("webhooks redeliver: %w", err)
	}
	fmt.Fprintf(w.out, "delivery %s of event %s to %s is pending again; the worker sends it now\n", d.ID, d.EventID, d.SubscriptionID)
	return nil
}

// startDispatcher runs the dispatchers of the outboxes the cases' record steps write — notifications to
// operations and partners, webhooks, the customer's messages — beside a worker until stop is called,
// which waits for them.
// Given-up deliveries alert ops through the worker's notifier.
func startDispatcher(ctx context.Context, cfg *appConfig, acts *activities.Activities, logger *slog.Logger) (stop func()) {
	store := acts.Store
	notifier := acts.Notifier
	d := &webhooks.Dispatcher{Store: store, Logger: logger, Alert: func(ctx context.Context, title, text string) {
		if err := notifier.Notify(ctx, notifications.Message{Severity: notifications.SeverityCritical, Title: notifications.Redact(title), Text: notifications.Redact(text)}); err != nil {
			logger.Error("webhooks: alerting ops failed", slog.String("title", title), slog.Any("error", err))
		}
	}}
	// The customer's messages (their DingTalk group, their e-mail) leave from their own outbox.
	// Without an SMTP server a customer's e-mail waits (and, after a day, operations hear of it) rather
	// than going to the log as if sent.
	var mailer notifications.Mailer
	if cfg.smtp.Addr != "" {
		mailer = cfg.mailer(logger)
	}
	cd := &customer.Dispatcher{Store: store, DingTalk: cfg.dingTalk(logger), Mailer: mailer, Logger: logger,
		Alert: func(ctx context.Context, m notifications.Message) {
			if err := notifier.Notify(ctx, m); err != nil {
				logger.Error("customer messages: alerting ops failed", slog.String("title", m.Title), slog.Any("error", err))
			}
		}}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	nd := &activities.NotificationDispatcher{A: acts}
	wg.Go(func() { _ = nd.Run(ctx) })
	wg.Go(func() { _ = d.Run(ctx) })
	wg.Go(func() { _ = cd.Run(ctx) })
	logger.Info("notification, webhook and customer message dispatchers started")
	return func() {
		cancel()
		wg.Wait()
	}
}

// devWebhook subscribes rawURL to every event for `steward dev --webhook-url`, allowing loopback, once:
// the subscription's id derives from the URL, so a restart finds it, and its secret is the one kept in the
// credentials file (generated the first time). It returns the subscription's id.
func devWebhook(ctx context.Context, store *db.Store, creds *DevCredentials, rawURL string, logger *slog.Logger) (string, error) {
	if err := webhooks.CheckURL(rawURL, true); err != nil {
		return "", fmt.Errorf("--webhook-url: %w", err)
	}
	id := devWebhookID(rawURL)
	sub, err := store.GetWebhookSubscription(ctx, id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		if creds.WebhookSecret == "" {
			creds.WebhookSecret = webhooks.NewSecret()
		}
		sub = &db.WebhookSubscription{ID: id, URL: rawURL, Events: db.EventList{db.AllEvents}, Secret: creds.WebhookSecret, AllowPrivate: true}
		if err := store.AddWebhookSubscription(ctx, sub); err != nil {
			return "", fmt.Errorf("--webhook-url: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("--webhook-url: %w", err)
	case creds.WebhookSecret == "":
		creds.WebhookSecret = sub.Secret // the credentials file was removed; the subscription keeps its secret
	case creds.WebhookSecret != sub.Secret:
		if err := store.RotateWebhookSecret(ctx, id, creds.WebhookSecret); err != nil {
			return "", fmt.Errorf("--webhook-url: %w", err)
		}
	}
	if sub.DisabledAt != nil {
		logger.Warn("--webhook-url: its subscription was disabled and gets no events; subscribe another URL", slog.String("subscription_id", id))
	}
	return id, nil
}

// devWebhookID is the id of the dev stack's subscription of rawURL.
func devWebhookID(rawURL string) string {
	return "whs_dev_" + db.WebhookEventID("dev-webhook " + rawURL)[len("evt_"):]
}
