package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	_ "modernc.org/sqlite"

	"github.com/steward-oss/steward/devserver"
)

const (
	devServerKindAttr  = "DevServerKind"
	devServerCountAttr = "DevServerCount"
	devServerQueue     = "devserver-e2e"
	devServerWorkflow  = "DevServerE2E"
)

var (
	devServerKindKey  = temporal.NewSearchAttributeKeyKeyword(devServerKindAttr)
	devServerCountKey = temporal.NewSearchAttributeKeyInt64(devServerCountAttr)
)

// devServerE2EWorkflow upserts the keyword attribute, so a list query can find the run by it.
func devServerE2EWorkflow(ctx workflow.Context, kind string) (string, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, devServerKindKey.ValueSet(kind)); err != nil {
		return "", err
	}
	return "done:" + kind, nil
}

func TestDevServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ns = "steward-e2e"
	opts := devserver.Options{
		DataDir:      dir,
		FrontendPort: devserver.PickFreePort,
		UIPort:       devserver.PickFreePort,
		Namespace:    ns,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			devServerKindAttr:  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			devServerCountAttr: enumspb.INDEXED_VALUE_TYPE_INT,
		},
		Logger: devServerLogger(t),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	start := time.Now()
	srv, err := devserver.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() }) // no-op once stopped below
	t.Logf("first start: %v; frontend %s, UI %s", time.Since(start), srv.FrontendHostPort(), srv.UIURL())
	require.Equal(t, ns, srv.Namespace())
	require.True(t, strings.HasPrefix(srv.UIURL(), "http://127.0.0.1:"), srv.UIURL())

	c := devServerClient(t, srv)

	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	require.NoError(t, err)
	require.Equal(t, ns, desc.GetNamespaceInfo().GetName())
	require.Equal(t, devserver.Retention, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
	devServerRequireSearchAttributes(ctx, t, c, ns)

	w := worker.New(c, devServerQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(devServerE2EWorkflow, workflow.RegisterOptions{Name: devServerWorkflow})
	require.NoError(t, w.Start())
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "devserver-e2e-1",
		TaskQueue:             devServerQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(devServerCountKey.ValueSet(7)),
	}, devServerWorkflow, "kind-a")
	require.NoError(t, err)
	var result string
	require.NoError(t, run.Get(ctx, &result))
	require.Equal(t, "done:kind-a", result)

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: ns,
			Query:     devServerKindAttr + " = 'kind-a' AND " + devServerCountAttr + " = 7",
		})
		if !assert.NoError(ct, err) || !assert.Len(ct, resp.GetExecutions(), 1) {
			return
		}
		assert.Equal(ct, run.GetID(), resp.GetExecutions()[0].GetExecution().GetWorkflowId())
		assert.Equal(ct, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, resp.GetExecutions()[0].GetStatus())
	}, 10*time.Second, 100*time.Millisecond)

	// The Web UI: its page, and the API it proxies to the frontend.
	page := devServerGet(ctx, t, srv.UIURL()+"/")
	require.Contains(t, strings.ToLower(page), "<html")
	var namespaces struct {
		Namespaces []struct {
			NamespaceInfo struct {
				Name string `json:"name"`
			} `json:"namespaceInfo"`
		} `json:"namespaces"`
	}
	require.NoError(t, json.Unmarshal([]byte(devServerGet(ctx, t, srv.UIURL()+"/api/v1/namespaces")), &namespaces))
	var names []string
	for _, n := range namespaces.Namespaces {
		names = append(names, n.NamespaceInfo.Name)
	}
	require.Contains(t, names, ns)

	// Restart on the same data dir: the run is still there and registration is a no-op.
	w.Stop()
	c.Close()
	stop := time.Now()
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Stop(), "a second Stop is a no-op")
	t.Logf("stop: %v", time.Since(stop))

	start = time.Now()
	srv2, err := devserver.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv2.Stop() })
	t.Logf("restart: %v", time.Since(start))
	c2 := devServerClient(t, srv2)
	got, err := c2.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, got.GetWorkflowExecutionInfo().GetStatus())
	devServerRequireSearchAttributes(ctx, t, c2, ns)

	// WAL is a property of the database file, so another connection sees it.
	dbPath := filepath.Join(dir, devserver.DatabaseFile)
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var mode string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	_, err = os.Stat(dbPath + "-wal")
	require.NoError(t, err, "the -wal file exists while the server runs")

	c2.Close()
	stop = time.Now()
	require.NoError(t, srv2.Stop())
	t.Logf("stop after restart: %v", time.Since(stop))
}

func TestDevServerInMemoryNoUI(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{
		InMemory:     true,
		FrontendPort: devserver.PickFreePort,
		Logger:       devServerLogger(t),
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Stop()) }()
	require.Equal(t, "", srv.UIURL())
	require.Equal(t, devserver.DefaultNamespace, srv.Namespace())

	c := devServerClient(t, srv)
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: devserver.DefaultNamespace})
	require.NoError(t, err)
}

func TestDevServerBadOptions(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name string
		opts devserver.Options
		want string
	}{
		{"frontend port in use", devserver.Options{InMemory: true, FrontendPort: busyPort}, "frontend port " + strconv.Itoa(busyPort)},
		{"UI port in use", devserver.Options{InMemory: true, FrontendPort: -1, UIPort: busyPort}, "UI port " + strconv.Itoa(busyPort)},
		{"no data dir", devserver.Options{FrontendPort: -1}, "DataDir is required"},
		{"data dir with in-memory", devserver.Options{InMemory: true, DataDir: t.TempDir()}, "DataDir must be empty"},
		{"bad port", devserver.Options{InMemory: true, FrontendPort: 70000}, "invalid frontend port 70000"},
		{"bad IP", devserver.Options{InMemory: true, IP: "localhost:1"}, "invalid IP"},
		{"bad search attribute", devserver.Options{InMemory: true, SearchAttributes: map[string]enumspb.IndexedValueType{"X": 99}}, `"X" has invalid type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := devserver.Start(t.Context(), tt.opts)
			if err == nil {
				_ = srv.Stop()
				t.Fatalf("Start(%+v) = nil error; want one containing %q", tt.opts, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start(%+v) = %v; want an error containing %q", tt.opts, err, tt.want)
			}
		})
	}
}

func devServerRequireSearchAttributes(ctx context.Context, t *testing.T, c client.Client, ns string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, resp.GetCustomAttributes()[devServerKindAttr])
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_INT, resp.GetCustomAttributes()[devServerCountAttr])
}

func devServerClient(t *testing.T, srv *devserver.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendHostPort(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(devServerLogger(t)),
	})
	require.NoError(t, err)
	return c
}

func devServerGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	return string(body)
}

// devServerLogger logs warnings and errors to the test log until the test ends; the server's
// goroutines may still log after that, which t.Log does not allow.
func devServerLogger(t *testing.T) *slog.Logger {
	w := &devServerLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type devServerLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *devServerLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
