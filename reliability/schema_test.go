package reliability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
)

// TestClusterSchema: deploy/temporal/schema.sh creates Temporal's two databases and their schemas and, run
// again, leaves them as they are; a database whose recorded version does not match its tables makes it fail
// with temporal-sql-tool's own error, which `make cluster` shows before starting anything; a server on a schema
// older than it needs stops at once, and ServerError (what the battery and make cluster print) names the
// versions. It runs with the battery (make reliability-short, make reliability) or with STEWARD_TEMPORAL_BIN set,
// on PostgreSQL.
func TestClusterSchema(t *testing.T) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" || (os.Getenv(EnvMode) == "" && os.Getenv(EnvTemporalBin) == "") {
		t.Skip("runs on PostgreSQL (TEST_DATABASE_URL) with " + EnvMode + " or " + EnvTemporalBin + " set (make reliability-short)")
	}
	ctx := t.Context()
	root, err := RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	server, sqlTool, err := TemporalBinaries(ctx, dir)
	require.NoError(t, err)
	u, err := url.Parse(base)
	require.NoError(t, err)
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	dbs := []string{"rel_schema_" + hex.EncodeToString(b), "rel_schema_vis_" + hex.EncodeToString(b)}
	t.Cleanup(func() { dropDatabases(t, base, dbs) })
	pwd, _ := u.User.Password()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	env := append(os.Environ(), "POSTGRES_SEEDS="+u.Hostname(), "DB_PORT="+port, "POSTGRES_USER="+u.User.Username(), "POSTGRES_PWD="+pwd,
		"DBNAME="+dbs[0], "VISIBILITY_DBNAME="+dbs[1], "TEMPORAL_SQL_TOOL="+sqlTool)
	schema := func() (string, error) {
		cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "deploy", "temporal", "schema.sh"))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := schema()
	require.NoError(t, err, out)
	assert.Regexp(t, `database `+dbs[0]+` \(postgresql/v12/temporal\) upgraded from 0\.0 to 1\.\d+`, out)
	assert.Regexp(t, `database `+dbs[1]+` \(postgresql/v12/visibility\) upgraded from 0\.0 to 1\.\d+`, out)
	out, err = schema()
	require.NoError(t, err, out)
	assert.Regexp(t, `database `+dbs[0]+` \(postgresql/v12/temporal\) already at 1\.\d+`, out, "a second run changes nothing")

	admin, err := db.Open(ctx, dbURL(u, dbs[1]))
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, "UPDATE schema_version SET curr_version = '1.0'")
	_ = admin.Close()
	require.NoError(t, err)
	out, err = schema()
	require.Error(t, err, out)
	assert.Contains(t, out, "temporal-sql-tool update-schema --schema-name postgresql/v12/visibility on database "+dbs[1])
	assert.Contains(t, out, "Unable to update SQL schema", "the tool's own error")
	assert.Contains(t, out, "does not match its tables")
	assert.NotContains(t, out, "DEBUG")

	// make cluster stops there, showing the same, before it starts a server.
	runDir := filepath.Join(dir, "cluster")
	cluster := exec.CommandContext(ctx, filepath.Join(root, "deploy", "cluster", "cluster.sh"), "up")
	cluster.Env = append(append([]string(nil), env...), "STEWARD_CLUSTER_DIR="+runDir, "FRONTEND_GRPC_PORT=1", "STEWARD_CLUSTER_DB="+dbs[0])
	cout, err := cluster.CombinedOutput()
	if isExec(filepath.Join(root, "bin", "steward")) && isExec(filepath.Join(root, "bin", "temporal-server")) && isExec(filepath.Join(root, "bin", "temporal-sql-tool")) {
		require.Error(t, err, "%s", cout)
		assert.Contains(t, string(cout), "Unable to update SQL schema")
		_, perr := os.Stat(filepath.Join(runDir, "temporal.pid"))
		assert.True(t, os.IsNotExist(perr), "no server started")
	}

	// A server on a schema older than its own stops at once and says which version it expected.
	admin, err = db.Open(ctx, dbURL(u, dbs[0]))
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, "UPDATE schema_version SET curr_version = '1.10'")
	_ = admin.Close()
	require.NoError(t, err)
	senv := append([]string(nil), env...)
	for _, name := range []string{"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT", "HISTORY_GRPC_PORT",
		"HISTORY_MEMBERSHIP_PORT", "MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT", "WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT"} {
		p, err := FreePort()
		require.NoError(t, err)
		senv = append(senv, name+"="+strconv.Itoa(p))
	}
	p := &Proc{Name: "temporal-server", Bin: server, Args: ServerArgs(filepath.Join(root, "deploy", "temporal", "config.yaml")),
		Env: append(senv, "DYNAMIC_CONFIG_FILE_PATH="+filepath.Join(root, "deploy", "temporal", "dynamicconfig.yaml")), Log: filepath.Join(dir, "server.log")}
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, WaitFor(wctx, func(context.Context) error {
		if p.Running() {
			return os.ErrExist
		}
		return nil
	}), "the server stops on a schema it cannot use")
	msg := ServerError(p.Log)
	assert.Contains(t, msg, `version mismatch for keyspace/database: "`+dbs[0]+`"`)
	assert.Regexp(t, `Expected version: 1\.\d+ cannot be greater than Actual version: 1\.10`, msg)
	assert.Less(t, len(msg), 4000, "the error lines, not the whole log")
	t.Logf("server: %s", strings.SplitN(msg, "\n", 2)[0])
}

// dbURL is base's server and user with database name.
func dbURL(base *url.URL, name string) string {
	u := *base
	u.Path = "/" + name
	u.RawQuery = "sslmode=disable"
	return u.String()
}
