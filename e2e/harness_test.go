package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
)

// stack is the whole of steward in one test: an embedded Temporal server, the database, a worker and the
// API behind an httptest server.
type stack struct {
	t        *testing.T
	temporal client.Client
	store    *db.Store
	api      *httptest.Server
	secret   []byte
	notes    *notifications.Recorder
	manager  string
	partners map[string]string
	logger   *slog.Logger
}

// stackOptions changes what newStackWith builds; the zero value is newStack's stack.
type stackOptions struct {
	// logger takes every log of the stack: the API's, the activities', the mailer's, the Temporal SDK's
	// (workflow loggers included) and the embedded server's; nil discards them.
	logger *slog.Logger
	// secret is the marketplace secret; "" means "test-marketplace-secret".
	secret string
	// logNotes hands every notification to the log notifier steward uses without a Slack token too.
	logNotes bool
}

func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackWith(t, stackOptions{})
}

func newStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.secret == "" {
		o.secret = "test-marketplace-secret"
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: t.TempDir(), FrontendPort: -1, UIPort: 0, Namespace: "default",
		SearchAttributes: workflows.SearchAttributes(), Logger: logger,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })

	store := dbtest.MustOpen(t)
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(logger)})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	notes := &notifications.Recorder{}
	var notifier notifications.Notifier = notes
	if o.logNotes {
		notifier = notifyBoth{notes, &notifications.Log{Logger: logger}}
	}
	// Report e-mail goes to a log mailer, as with steward dev when no SMTP server is set.
	acts := &activities.Activities{Store: store, Notifier: notifier, Mailer: &notifications.LogMailer{Logger: logger}, Logger: logger, Wakeup: make(chan struct{}, 1)}
	w := worker.New(c, acts, sdkworker.Options{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	runNotifications(t, acts)

	s := &stack{t: t, temporal: c, store: store, secret: []byte(o.secret), notes: notes, partners: map[string]string{}, logger: logger}
	s.api = httptest.NewServer(api.New(api.Config{Temporal: c, Store: store, Logger: logger, MarketplaceSecret: s.secret}).Handler())
	t.Cleanup(s.api.Close)

	for _, id := range []string{"p-alpha", "p-beta"} {
		require.NoError(t, store.AddPartner(ctx, &db.Partner{ID: id, Name: id, Services: []string{"sos", "dengbao"}, Onsite: true, Capacity: 3, Active: true, CreatedAt: time.Now()}))
		secret, _, err := store.IssueToken(ctx, db.RolePartner, id, "engineer of "+id)
		require.NoError(t, err)
		s.partners[id] = secret
	}
	s.manager, _, err = store.IssueToken(ctx, db.RoleManager, "", "manager")
	require.NoError(t, err)
	return s
}

// runNotifications delivers the notifications the cases' records write to the outbox, as each steward
// worker does, until the test ends.
func runNotifications(t *testing.T, acts *activities.Activities) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	d := &activities.NotificationDispatcher{A: acts, Poll: 50 * time.Millisecond}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	t.Cleanup(func() { stop(); <-done })
}

// response is an HTTP answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

func (s *stack) do(req *http.Request) response {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// signed sends a marketplace call signed at ts.
func (s *stack) signedAt(method, path string, body []byte, ts time.Time) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(api.HeaderSignature, api.Sign(s.secret, ts, body))
	return s.do(req)
}

func (s *stack) signed(method, path string, body []byte) response {
	s.t.Helper()
	return s.signedAt(method, path, body, time.Now())
}

// bearer sends a call with a token.
func (s *stack) bearer(method, path, token string, body []byte, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.do(req)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// recordHistory writes the history of a run of workflowID (the latest run when runID is empty) to
// workflows/testdata/<name>.json when STEWARD_RECORD_HISTORY=1. The workflows package's replay tests
// replay every history there; name is <kind>_<scenario>.
func recordHistory(t *testing.T, s *stack, workflowID, runID, name string) {
	t.Helper()
	if os.Getenv("STEWARD_RECORD_HISTORY") != "1" {
		return
	}
	// A running run is recorded between workflow tasks, once its activities are done, so that the
	// history ends where the workflow waits.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		d, err := s.temporal.DescribeWorkflowExecution(context.Background(), workflowID, runID)
		if assert.NoError(c, err) && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			assert.Nil(c, d.GetPendingWorkflowTask(), "pending workflow task")
			assert.Empty(c, d.GetPendingActivities(), "pending activities")
		}
	}, 20*time.Second, 100*time.Millisecond, "%s run %q did not settle", workflowID, runID)
	h := history(t, s, workflowID, runID)
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(t, err)
	path := filepath.Join("..", "workflows", "testdata", name+".json")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
	t.Logf("wrote %d events of %s to %s", len(h.Events), workflowID, path)
}

// history reads a run's history (the latest run's when runID is empty).
func history(t *testing.T, s *stack, workflowID, runID string) *historypb.History {
	t.Helper()
	it := s.temporal.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	return h
}
