package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/reliability"
	"github.com/steward-oss/steward/workflows"
)

// Tests of steward's production commands against a Temporal server that is not ready for them: no namespace
// (the official server creates none), no search attributes, not running at all. The embedded server stands in
// for the cluster; reliability's cluster battery runs the same commands against the official one.

// startServer starts an embedded Temporal server with namespace "default" and, when sas is set, steward's
// search attributes on it.
func startServer(t *testing.T, port int, sas bool) *devserver.Server {
	t.Helper()
	o := devserver.Options{InMemory: true, FrontendPort: port, Namespace: "default"}
	if sas {
		o.SearchAttributes = workflows.SearchAttributes()
	}
	srv, err := devserver.Start(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// freeTCPPort is a port the test binds later: outside the kernel's ephemeral range (reliability.FreePort says
// why), so no outgoing connection takes it meanwhile.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	p, err := reliability.FreePort()
	require.NoError(t, err)
	return p
}

// TestSetupCreatesTheNamespace: against a server without the namespace, `steward setup` creates it with the
// retention asked for and says so, registers the search attributes and says so; run again it changes nothing.
// With -create-namespace=false a missing namespace fails at once, naming it and how to create it.
func TestSetupCreatesTheNamespace(t *testing.T) {
	srv := startServer(t, devserver.PickFreePort, false)
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("TEMPORAL_NAMESPACE", "steward-setup")

	out, err := steward(t, "setup", "-retention", "3d")
	require.NoError(t, err, out)
	assert.Contains(t, out, `created namespace "steward-setup" on `+srv.FrontendHostPort()+" (retention 3d)")
	assert.Contains(t, out, "registered search attributes: [AmountCents Assignment")

	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: "steward-setup"})
	require.NoError(t, err)
	defer c.Close()
	ns, err := c.WorkflowService().DescribeNamespace(context.Background(), &workflowservice.DescribeNamespaceRequest{Namespace: "steward-setup"})
	require.NoError(t, err)
	assert.Equal(t, 72*time.Hour, ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
	// Usable at once: a case can start with its search attributes.
	require.NoError(t, countOnSearchAttributes(context.Background(), c, "steward-setup"))

	out, err = steward(t, "setup")
	require.NoError(t, err, out)
	assert.Contains(t, out, `namespace "steward-setup" exists`)
	assert.Contains(t, out, "search attributes already registered")

	t.Setenv("TEMPORAL_NAMESPACE", "steward-missing")
	began := time.Now()
	out, err = steward(t, "setup", "-create-namespace=false")
	require.Error(t, err)
	assert.Less(t, time.Since(began), 5*time.Second, "a missing namespace fails at once")
	assert.ErrorContains(t, err, `namespace "steward-missing" does not exist on the Temporal cluster at `+srv.FrontendHostPort())
	assert.ErrorContains(t, err, "temporal operator namespace create --namespace steward-missing --retention 30d")
	assert.NotContains(t, out, "created namespace")

	_, err = steward(t, "setup", "-retention", "2h")
	assert.ErrorContains(t, err, "at least a day")
}

// TestWorkerAndAPIWaitForTemporal: a worker and an API started before the Temporal server log what they wait
// for, the API answers /readyz 503 meanwhile, and both go on once the server is up.
func TestWorkerAndAPIWaitForTemporal(t *testing.T) {
	port, apiPort := freeTCPPort(t), freeTCPPort(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:"+strconv.Itoa(port))
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("STEWARD_MARKETPLACE_SECRET", "cluster-test-marketplace-secret")
	t.Setenv("STEWARD_API_ADDR", "127.0.0.1:"+strconv.Itoa(apiPort))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	workerLog, apiLog := &syncBuffer{}, &syncBuffer{}
	workerDone, apiDone := make(chan error, 1), make(chan error, 1)
	go func() { workerDone <- run(ctx, []string{"worker"}, workerLog, workerLog) }()
	go func() { apiDone <- run(ctx, []string{"api"}, apiLog, apiLog) }()

	readyz := "http://127.0.0.1:" + strconv.Itoa(apiPort) + "/readyz"
	waiting := "waiting for the Temporal server at 127.0.0.1:" + strconv.Itoa(port)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res, err := http.Get(readyz)
		if assert.NoError(c, err) {
			res.Body.Close()
			assert.Equal(c, http.StatusServiceUnavailable, res.StatusCode)
		}
		assert.Contains(c, apiLog.String(), waiting)
		assert.Contains(c, workerLog.String(), waiting)
	}, 20*time.Second, 100*time.Millisecond, "api: %s\nworker: %s", apiLog, workerLog)
	select {
	case err := <-workerDone:
		t.Fatalf("the worker gave up: %v\n%s", err, workerLog)
	case err := <-apiDone:
		t.Fatalf("the API gave up: %v\n%s", err, apiLog)
	default:
	}

	startServer(t, port, true)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		select {
		case err := <-workerDone:
			t.Fatalf("the worker stopped: %v\n%s", err, workerLog)
		case err := <-apiDone:
			t.Fatalf("the API stopped: %v\n%s", err, apiLog)
		default:
		}
		res, err := http.Get(readyz)
		if assert.NoError(c, err) {
			res.Body.Close()
			assert.Equal(c, http.StatusOK, res.StatusCode)
		}
		assert.Contains(c, apiLog.String(), "api ready")
		assert.Contains(c, workerLog.String(), "worker started")
	}, 60*time.Second, 200*time.Millisecond, "api: %s\nworker: %s", apiLog, workerLog)
	assert.Contains(t, apiLog.String(), "done waiting for the Temporal server")

	cancel()
	for name, done := range map[string]chan error{"worker": workerDone, "api": apiDone} {
		select {
		case err := <-done:
			assert.NoError(t, err, name)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop", name)
		}
	}
}

// TestWorkerAndAPINeedSetup: on a cluster where `steward setup` has not run — the namespace missing, or
// steward's search attributes missing — the worker and the API stop at once with an error naming
// `steward setup`.
func TestWorkerAndAPINeedSetup(t *testing.T) {
	srv := startServer(t, devserver.PickFreePort, false)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("STEWARD_MARKETPLACE_SECRET", "cluster-test-marketplace-secret")
	t.Setenv("STEWARD_API_ADDR", "127.0.0.1:0")

	for _, tc := range []struct{ namespace, want string }{
		{"default", `namespace "default" on the Temporal cluster at ` + srv.FrontendHostPort() + " lacks steward's search attributes AmountCents, Assignment"},
		{"nowhere", `namespace "nowhere" does not exist on the Temporal cluster at ` + srv.FrontendHostPort() + ": run `steward setup`"},
	} {
		t.Setenv("TEMPORAL_NAMESPACE", tc.namespace)
		for _, cmd := range []string{"worker", "api"} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			log := &syncBuffer{}
			began := time.Now()
			err := run(ctx, []string{cmd}, log, log)
			cancel()
			require.Error(t, err, "%s in namespace %s: %s", cmd, tc.namespace, log)
			assert.ErrorContains(t, err, tc.want, cmd)
			assert.ErrorContains(t, err, "steward setup", cmd)
			assert.Less(t, time.Since(began), 10*time.Second, "%s stops at once", cmd)
		}
	}
}

// TestWaitNamesFullConnections: a database that refuses connections for want of one (SQLSTATE 53300, here
// a role's connection limit of 0) is waited for with the reason and the cure in the log; once it takes
// connections again the command goes on. PostgreSQL only.
func TestWaitNamesFullConnections(t *testing.T) {
	base := os.Getenv(dbtest.EnvURL)
	if base == "" {
		t.Skip("needs PostgreSQL (" + dbtest.EnvURL + ")")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	require.NoError(t, err)
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "steward_connlimit_" + hex.EncodeToString(b)
	_, err = admin.ExecContext(ctx, "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 0")
	require.NoError(t, err)
	t.Cleanup(func() { // after the schema it owns is dropped (cleanups run last in, first out)
		a, err := db.Open(context.Background(), base)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	dsn, schema := dbtest.SchemaURL(ctx, t, base, "connlimit_")
	_, err = admin.ExecContext(ctx, "ALTER SCHEMA "+schema+" OWNER TO "+role)
	require.NoError(t, err)
	roleDSN, err := url_(dsn, role)
	require.NoError(t, err)

	_, err = steward(t, "migrate", "-database-url", roleDSN, "-wait", "2s")
	require.Error(t, err)
	assert.ErrorContains(t, err, "gave up waiting for the database")
	assert.ErrorContains(t, err, "53300")
	assert.ErrorContains(t, err, "no connection left")

	log := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"migrate", "-database-url", roleDSN, "-wait", "1m"}, log, log) }()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, log.String(), "waiting for the database")
		assert.Contains(c, log.String(), "SQLSTATE 53300")
	}, 20*time.Second, 100*time.Millisecond, "%s", log)
	_, err = admin.ExecContext(ctx, "ALTER ROLE "+role+" CONNECTION LIMIT -1")
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err, log.String())
		assert.Contains(t, log.String(), "done waiting for the database")
		assert.Contains(t, log.String(), "database migrated")
	case <-time.After(30 * time.Second):
		t.Fatalf("migrate did not go on: %s", log)
	}
}

// url_ is dsn with its user replaced by role (no password: the test database trusts local connections).
func url_(dsn, role string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.User = url.User(role)
	return u.String(), nil
}
