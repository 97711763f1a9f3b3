package reliability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-oss/steward/db"
)

// The cluster topology: the official Temporal server (temporal-server, built from go.mod's go.temporal.io/server)
// on PostgreSQL, for persistence and SQL visibility, configured by deploy/temporal/ — the files `make cluster` and
// docker-compose.yml use — with its schemas made by deploy/temporal/schema.sh (temporal-sql-tool), `steward setup`
// creating the namespace and search attributes, and several steward workers and APIs.

// EnvTemporalBin names the directory with temporal-server and temporal-sql-tool (make sets it to bin/, which
// `make cluster-bin` fills); without it they are taken from the repository's bin/ or built.
const EnvTemporalBin = "STEWARD_TEMPORAL_BIN"

// ServerArgs are temporal-server's arguments for config, as make cluster (deploy/cluster/cluster.sh) and
// docker-compose.yml give them.
func ServerArgs(config string) []string {
	return []string{"--config-file", config, "--allow-no-auth", "start"}
}

// RepoRoot is the directory of go.mod, found from the working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// TemporalBinaries returns temporal-server and temporal-sql-tool: from $STEWARD_TEMPORAL_BIN, else the
// repository's bin/, else built into dir.
func TemporalBinaries(ctx context.Context, dir string) (server, sqlTool string, err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", "", err
	}
	for _, d := range []string{os.Getenv(EnvTemporalBin), filepath.Join(root, "bin")} {
		if d == "" {
			continue
		}
		s, q := filepath.Join(d, "temporal-server"), filepath.Join(d, "temporal-sql-tool")
		if isExec(s) && isExec(q) {
			return s, q, nil
		}
		if d == os.Getenv(EnvTemporalBin) {
			return "", "", fmt.Errorf("%s=%s: no temporal-server and temporal-sql-tool there (make cluster-bin builds them)", EnvTemporalBin, d)
		}
	}
	server, sqlTool = filepath.Join(dir, "temporal-server"), filepath.Join(dir, "temporal-sql-tool")
	for out, pkg := range map[string]string{server: "go.temporal.io/server/cmd/server", sqlTool: "go.temporal.io/server/cmd/tools/sql"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
	}
	return server, sqlTool, nil
}

func isExec(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// ClusterOptions shape StartCluster's topology.
type ClusterOptions struct {
	Dir     string   // the processes' log files go here
	Steward string   // the steward binary
	BaseDSN string   // PostgreSQL (TEST_DATABASE_URL): Temporal's two databases are created there, and dropped after
	Env     []string // the steward processes' environment (DATABASE_URL, Slack, secrets, ...)
	Workers int
	APIs    int
	Logf    func(format string, args ...any) // progress, for the battery's log
}

// Cluster is a running cluster topology. Its processes are stopped and its databases dropped at the test's
// cleanup.
type Cluster struct {
	Temporal *Proc
	Workers  []*Proc
	APIs     []*Proc
	HostPort string   // the frontend, for clients
	APIURLs  []string // one per API
	Setup    string   // what `steward setup` printed
	DBs      [2]string
	Schema   string // what deploy/temporal/schema.sh printed
}

// StartCluster creates Temporal's databases and schemas with deploy/temporal/schema.sh, starts temporal-server
// with deploy/temporal/config.yaml on free ports, runs `steward setup` (which creates the namespace: the official
// server has none) and starts the workers and APIs; it returns when every API answers /readyz.
func StartCluster(tb testing.TB, o ClusterOptions) *Cluster {
	tb.Helper()
	ctx := tb.Context()
	logf := o.Logf
	if logf == nil {
		logf = tb.Logf
	}
	root, err := RepoRoot()
	must(tb, err)
	server, sqlTool, err := TemporalBinaries(ctx, o.Dir)
	must(tb, err)
	u, err := url.Parse(o.BaseDSN)
	must(tb, err)
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		tb.Fatalf("the cluster topology needs PostgreSQL, not %q", o.BaseDSN)
	}
	pgPort := u.Port()
	if pgPort == "" {
		pgPort = "5432"
	}
	pwd, _ := u.User.Password()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	c := &Cluster{DBs: [2]string{"rel_temporal_" + hex.EncodeToString(b), "rel_temporal_vis_" + hex.EncodeToString(b)}}
	dbEnv := []string{"POSTGRES_SEEDS=" + u.Hostname(), "DB_PORT=" + pgPort, "POSTGRES_USER=" + u.User.Username(), "POSTGRES_PWD=" + pwd,
		"DBNAME=" + c.DBs[0], "VISIBILITY_DBNAME=" + c.DBs[1]}

	// Dropped last (cleanups run last in, first out): after the server has stopped.
	tb.Cleanup(func() { dropDatabases(tb, o.BaseDSN, c.DBs[:]) })
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "deploy", "temporal", "schema.sh"))
	cmd.Env = append(append(os.Environ(), dbEnv...), "TEMPORAL_SQL_TOOL="+sqlTool)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("deploy/temporal/schema.sh: %v\n%s", err, out)
	}
	c.Schema = strings.TrimSpace(string(out))
	logf("temporal schemas: %s", strings.ReplaceAll(c.Schema, "\n", "; "))

	ports := map[string]int{}
	for _, name := range []string{"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT", "HISTORY_GRPC_PORT",
		"HISTORY_MEMBERSHIP_PORT", "MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT", "WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT"} {
		for {
			p, err := FreePort() // below 32768, as the membership ports must be
			must(tb, err)
			if !slicesContainsValue(ports, p) {
				ports[name] = p
				break
			}
		}
	}
	serverEnv := append([]string{"DYNAMIC_CONFIG_FILE_PATH=" + filepath.Join(root, "deploy", "temporal", "dynamicconfig.yaml"), "LOG_LEVEL=warn"}, dbEnv...)
	for name, p := range ports {
		serverEnv = append(serverEnv, name+"="+strconv.Itoa(p))
	}
	c.HostPort = "127.0.0.1:" + strconv.Itoa(ports["FRONTEND_GRPC_PORT"])
	logs := filepath.Join(o.Dir, "logs")
	must(tb, os.MkdirAll(logs, 0o700))
	mk := func(name, bin string, env []string, args ...string) *Proc {
		p := &Proc{Name: name, Bin: bin, Args: args, Env: env, Log: filepath.Join(logs, name+".log")}
		tb.Cleanup(func() {
			p.Stop()
			if tb.Failed() {
				if out, err := os.ReadFile(p.Log); err == nil {
					tb.Logf("--- %s log (tail)\n%s", name, Tail(string(out), 4000))
				}
			}
		})
		return p
	}
	c.Temporal = mk("temporal-server", server, serverEnv, ServerArgs(filepath.Join(root, "deploy", "temporal", "config.yaml"))...)
	stewardEnv := append(append([]string(nil), o.Env...), "TEMPORAL_ADDRESS="+c.HostPort, "TEMPORAL_NAMESPACE=default")
	for i := 1; i <= o.Workers; i++ {
		c.Workers = append(c.Workers, mk(fmt.Sprintf("worker-%d", i), o.Steward, stewardEnv, "worker"))
	}
	for i := 1; i <= o.APIs; i++ {
		p, err := FreePort()
		must(tb, err)
		addr := "127.0.0.1:" + strconv.Itoa(p)
		c.APIs = append(c.APIs, mk(fmt.Sprintf("api-%d", i), o.Steward, append(append([]string(nil), stewardEnv...), "STEWARD_API_ADDR="+addr), "api"))
		c.APIURLs = append(c.APIURLs, "http://"+addr)
	}

	t0 := time.Now()
	must(tb, c.Temporal.Start())
	// `steward setup` waits for the server, then creates the namespace and its search attributes; a server
	// that stops meanwhile ends the wait.
	sctx, stopSetup := context.WithCancel(ctx)
	defer stopSetup()
	go func() {
		for sctx.Err() == nil && c.Temporal.Running() {
			time.Sleep(200 * time.Millisecond)
		}
		stopSetup()
	}()
	setup := exec.CommandContext(sctx, o.Steward, "setup", "-wait", "2m")
	setup.Env = append(os.Environ(), stewardEnv...)
	var stdout, stderr strings.Builder
	setup.Stdout, setup.Stderr = &stdout, &stderr
	if err := setup.Run(); err != nil {
		if !c.Temporal.Running() {
			tb.Fatalf("temporal-server stopped: %s", ServerError(c.Temporal.Log))
		}
		tb.Fatalf("steward setup: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	c.Setup = stdout.String()
	logf("temporal-server %s up and set up in %s (steward setup logged %d waits)", c.HostPort, time.Since(t0).Round(time.Millisecond),
		strings.Count(stderr.String(), "waiting for"))
	for _, p := range append(append([]*Proc(nil), c.Workers...), c.APIs...) {
		must(tb, p.Start())
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, base := range c.APIURLs {
		if err := WaitFor(rctx, func(ctx context.Context) error { return APIReady(ctx, base) }); err != nil {
			tb.Fatalf("api %s not ready: %v", base, err)
		}
	}
	return c
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func slicesContainsValue(m map[string]int, v int) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

var serverErrorLine = regexp.MustCompile(`(?m)^.*(Unable to|compatibility check failed|"level":"fatal").*$`)

// ServerError is why temporal-server stopped, from its log: its last error lines (a schema it cannot use
// names the version it expected), without their stack traces.
func ServerError(log string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		return err.Error()
	}
	m := serverErrorLine.FindAllString(string(b), -1)
	if len(m) == 0 {
		return Tail(string(b), 2000)
	}
	m = m[max(0, len(m)-3):]
	for i, line := range m {
		var entry struct{ Level, Msg, Error string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg != "" {
			m[i] = entry.Level + ": " + entry.Msg + ": " + entry.Error
		}
	}
	return strings.Join(m, "\n")
}

// dropDatabases drops Temporal's databases of a cluster run.
func dropDatabases(tb testing.TB, base string, names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := db.Open(ctx, base)
	if err != nil {
		tb.Errorf("drop temporal databases: %v", err)
		return
	}
	defer admin.Close()
	for _, n := range names {
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", n, err)
		}
	}
}
