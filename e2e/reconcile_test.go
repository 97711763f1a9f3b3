package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
)

// lockedBuffer is a log sink safe for the goroutines of a worker.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReconcilerStartsPurchaseMadeWhileTemporalWasDown: the marketplace's purchase callback arrives while
// Temporal is down and is never retried. The API stores the order and the case row and answers 503. When
// Temporal is back, the worker's reconciler, at its production settings, starts the case from its stored
// order within a minute of the purchase, once: a second reconciler (another worker) and the marketplace's
// late retry find it started, and there is one run with one opening.
func TestReconcilerStartsPurchaseMadeWhileTemporalWasDown(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The port Temporal will listen on, with nothing on it yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	hostPort := ln.Addr().String()
	require.NoError(t, ln.Close())

	store := dbtest.MustOpen(t)
	apiClient, err := client.NewLazyClient(client.Options{HostPort: hostPort, Namespace: "default", Logger: sdklog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	t.Cleanup(apiClient.Close)
	s := &stack{t: t, temporal: apiClient, store: store, secret: []byte("test-marketplace-secret"), notes: &notifications.Recorder{}, partners: map[string]string{}}
	s.api = httptest.NewServer(api.New(api.Config{Temporal: apiClient, Store: store, Logger: quiet, MarketplaceSecret: s.secret}).Handler())
	t.Cleanup(s.api.Close)
	require.NoError(t, store.AddPartner(ctx, &db.Partner{ID: "p-alpha", Name: "p-alpha", Services: []string{"sos"}, Onsite: true, Capacity: 3, Active: true, CreatedAt: time.Now()}))
	s.manager, _, err = store.IssueToken(ctx, db.RoleManager, "", "manager")
	require.NoError(t, err)

	// The purchase, with Temporal down.
	const orderID = "ORD-DOWN-1"
	caseID := workflows.CaseWorkflowID("sos", orderID)
	raw := mustJSON(t, purchaseBody(orderID))
	purchasedAt := time.Now()
	first := s.signed(http.MethodPost, "/v1/purchases", raw)
	require.Equal(t, http.StatusServiceUnavailable, first.Status, "%s", first.Body)
	assert.Contains(t, string(first.Body), "the workflow service is unavailable")
	row, err := store.GetCase(ctx, caseID)
	require.NoError(t, err, "the case row is stored before the start")
	assert.Zero(t, row.Revision, "no workflow has written it")
	t.Logf("purchase answered %d after %v", first.Status, time.Since(purchasedAt).Round(time.Millisecond))

	// Temporal comes back; a worker starts, and its reconciler at the production settings.
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), FrontendPort: port, Namespace: "default",
		SearchAttributes: workflows.SearchAttributes(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: "default", Logger: sdklog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	acts := &activities.Activities{Store: store, Notifier: s.notes, Mailer: &notifications.LogMailer{Logger: quiet}, Logger: quiet}
	w := worker.New(c, acts, sdkworker.Options{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	runNotifications(t, acts)
	logs := &lockedBuffer{}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	wg.Go(func() {
		(&worker.Reconciler{Store: store, Temporal: c, Logger: slog.New(slog.NewTextHandler(logs, nil))}).Run(rctx)
	})

	// Within a minute of the purchase, the case runs and has written its row.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		row, err := store.GetCase(ctx, caseID)
		if assert.NoError(ct, err) {
			assert.Positive(ct, row.Revision, "the workflow wrote the case")
		}
	}, time.Minute-time.Since(purchasedAt), 250*time.Millisecond, "the case is started within a minute of its purchase")
	t.Logf("case started %v after the purchase", time.Since(purchasedAt).Round(time.Second))

	// Another worker's reconciler finds nothing to start; the marketplace's late retry finds the case.
	res, err := (&worker.Reconciler{Store: store, Temporal: c, Logger: quiet, Grace: time.Nanosecond}).Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, worker.ReconcileResult{}, res)
	again := s.signed(http.MethodPost, "/v1/purchases", raw)
	require.Equal(t, http.StatusOK, again.Status, "%s", again.Body)
	var got api.PurchaseResult
	again.json(t, &got)
	assert.Equal(t, caseID, got.CaseID)

	// One run, found by its search attributes, opened once, from the stored order.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "OrderId='" + orderID + "'"})
		if assert.NoError(ct, err) && assert.Len(ct, list.Executions, 1) {
			assert.Equal(ct, caseID, list.Executions[0].Execution.WorkflowId)
		}
	}, 20*time.Second, 200*time.Millisecond)
	view := s.bearer(http.MethodGet, "/v1/cases/"+caseID, s.manager, nil)
	require.Equal(t, http.StatusOK, view.Status, "%s", view.Body)
	var v workflows.CaseView
	view.json(t, &v)
	assert.Equal(t, int64(500000), v.AmountCents)
	assert.Equal(t, "cust-42", v.CustomerID)
	opened := 0
	for _, e := range v.Timeline {
		if e.Event == string(workflows.EventCaseOpened) {
			opened++
		}
	}
	assert.Equal(t, 1, opened, "opened once")
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "started the workflow of a case whose purchase did not start it"), out)
	assert.Contains(t, out, "case_id="+caseID)
}
