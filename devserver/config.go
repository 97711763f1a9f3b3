package devserver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

const clusterName = "active"

// namespaceRefresh is how often each service re-reads namespaces (and with them the search
// attribute aliases) from the database; short so a registration is usable at once.
const namespaceRefresh = time.Second

// sqliteConfig returns the persistence settings for the default and visibility stores (one SQLite
// database for both) and, for a file database, sets up the schema on first start.
//
// Connect attributes are turned into the DSN by the sqlite plugin: "mode" and "cache" are SQLite
// URI parameters; any other key becomes a `_pragma=key=value` run on connect. The keys must not
// carry a leading underscore ("_journal_mode" would run `PRAGMA _journal_mode=wal`, which SQLite
// silently ignores), and the plugin looks for exactly "journal_mode" when it decides whether
// several connections are safe. We keep its default of one connection: SQLite has one writer anyway.
func sqliteConfig(o Options) (*config.SQL, error) {
	if o.InMemory {
		// A random name per server: with cache=shared, servers in one process (parallel tests) would
		// otherwise share a database. mode=memory also makes the plugin create the schema itself.
		return &config.SQL{
			PluginName:   sqliteplugin.PluginName,
			DatabaseName: "steward-devserver-" + rand.Text(),
			ConnectAttributes: map[string]string{
				"mode":  "memory",
				"cache": "shared",
			},
		}, nil
	}

	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devserver: data dir %q: %w", o.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devserver: create data dir: %w", err)
	}
	path := filepath.Join(dir, DatabaseFile)
	cfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode":         "rwc", // read-write, create the file if missing
			"journal_mode": "wal", // persistent in the file; readers never block the writer
			"synchronous":  "NORMAL",
			"busy_timeout": "5000", // outside readers (sqlite3 CLI, tests) may briefly hold locks
		},
	}
	if err := setupSchema(cfg, path); err != nil {
		return nil, err
	}
	if err := forgetMembers(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// forgetMembers deletes the cluster membership rows a previous run left behind. Each service
// bootstraps its membership ring from the hosts that heartbeated in the last 20 s; after a quick
// restart those are the previous run's services on ports now closed, and joining them fails until
// a join timeout (matching then stays out of the ring for half a minute: "Not enough hosts to serve
// the request"). This server is the only member of its cluster, so every row is stale.
func forgetMembers(cfg *config.SQL) error {
	db, err := persistencesql.NewSQLAdminDB(sqlplugin.DbKindUnknown, cfg, resolver.NewNoopResolver(),
		log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("devserver: open %s: %w", cfg.DatabaseName, err)
	}
	defer func() { _ = db.Close() }()
	if err := db.Exec("DELETE FROM cluster_membership"); err != nil {
		return fmt.Errorf("devserver: clear stale cluster membership: %w", err)
	}
	return nil
}

// setupSchema creates Temporal's tables in a new database file and leaves an existing one alone,
// so a restart resumes where it stopped. It goes through the plugin with the server's own
// settings: the plugin keeps one connection per DSN for the whole process, and the server reuses
// the one opened here, already in WAL mode.
func setupSchema(cfg *config.SQL, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("devserver: %w", err)
	}
	if err := sqliteschema.SetupSchema(cfg); err != nil {
		// Remove the half-made file so the next start tries again rather than resuming it.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
		return fmt.Errorf("devserver: set up temporal schema in %s: %w", path, err)
	}
	return nil
}

// serverConfig is the static server configuration: one SQLite store, one history shard, every
// service in this process on its own port, archival off.
func serverConfig(o Options, p ports, sqlCfg *config.SQL, frontendHostPort string) *config.Config {
	internal := internalIP(o.IP)
	rpc := func(ip string, grpcPort, membershipPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membershipPort, BindOnIP: ip}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{
				MaxJoinDuration:  30 * time.Second,
				BroadcastAddress: internal,
			},
			// Metrics nil: a no-op handler; PProf port 0: off.
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1, // fixed at first start; must never change for a data dir
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: sqlCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             frontendHostPort,
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": rpc(o.IP, p.frontend, p.membership[0]),
			"history":  rpc(internal, p.history, p.membership[1]),
			"matching": rpc(internal, p.matching, p.membership[2]),
			"worker":   rpc(internal, p.worker, p.membership[3]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The server's own system workers (schedules, batch, ...) dial the frontend through this.
		PublicClient: config.PublicClient{HostPort: frontendHostPort},
	}
}

// dynamicConfig holds the settings a dev server wants different from production defaults.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Search attributes registered at start are usable at once: with SQL visibility a custom search
		// attribute is an alias of a column the schema already has, kept in the namespace, so a short
		// namespace refresh is all it takes. (ForceSearchAttributesCacheRefreshOnRead stays off: it
		// re-reads the cluster metadata, which registration never changes, on every search attribute
		// read, a database round trip on the one SQLite connection for each start, upsert and list.)
		dynamicconfig.NamespaceCacheRefreshInterval.Key(): namespaceRefresh,
		// On by default in 1.32; set so an upgrade that flips a default does not silently break
		// the workflow updates every case step relies on.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
	}
}
