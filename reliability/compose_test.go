package reliability

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the test reads.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   yaml.Node         `yaml:"depends_on"` // a list or a map of conditions
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// condition is the condition the service waits for on dep ("" when it does not name one).
func (s composeService) condition(dep string) string {
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if s.DependsOn.Kind != yaml.MappingNode || s.DependsOn.Decode(&m) != nil {
		return ""
	}
	return m[dep].Condition
}

// composeMount is where docker-compose.yml mounts deploy/temporal.
const composeMount = "/etc/temporal/steward"

// TestComposeMatchesCluster: docker-compose.yml runs what `make cluster` and the cluster battery run — the
// temporalio images at the versions steward embeds, the same config file and dynamic config mounted from
// deploy/temporal, the server started with the same arguments, the schemas made by the same script — and
// every setting it gives the server and the schema job is one those files read.
func TestComposeMatchesCluster(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join(root, path))
		require.NoError(t, err)
		return string(b)
	}
	var cf composeFile
	require.NoError(t, yaml.Unmarshal([]byte(read("docker-compose.yml")), &cf))

	mods := map[string]string{}
	for _, line := range strings.Split(read("go.mod"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			mods[f[0]] = strings.TrimPrefix(f[1], "v")
		}
	}
	server, ui := mods["go.temporal.io/server"], mods["github.com/temporalio/ui-server/v2"]
	require.NotEmpty(t, server)
	require.NotEmpty(t, ui)

	temporal, schema, webUI := cf.Services["temporal"], cf.Services["temporal-schema"], cf.Services["temporal-ui"]
	assert.Equal(t, "temporalio/server:"+server, temporal.Image, "the server image is at go.mod's go.temporal.io/server")
	assert.Equal(t, "temporalio/admin-tools:"+server, schema.Image, "admin-tools (temporal-sql-tool) at the server's version")
	assert.Equal(t, "temporalio/ui:"+ui, webUI.Image, "the Web UI at the embedded UI's version")
	for name, s := range cf.Services {
		assert.NotContains(t, s.Image, "auto-setup", "service %s: temporalio/auto-setup is deprecated", name)
	}

	mount := "./deploy/temporal:" + composeMount + ":ro"
	assert.Contains(t, temporal.Volumes, mount)
	assert.Contains(t, schema.Volumes, mount)

	// The server: the same arguments as make cluster and the battery, on the mounted config.
	serverCmd := strings.Join(append(temporal.Entrypoint, temporal.Command...), " ")
	assert.Contains(t, serverCmd, "temporal-server "+strings.Join(ServerArgs(composeMount+"/config.yaml"), " "))
	assert.Equal(t, composeMount+"/dynamicconfig.yaml", temporal.Environment["DYNAMIC_CONFIG_FILE_PATH"])
	script := read("deploy/cluster/cluster.sh")
	assert.Contains(t, script, "CONFIG=deploy/temporal/config.yaml")
	assert.Contains(t, script, `"$BIN/temporal-server" `+strings.Join(ServerArgs(`"$CONFIG"`), " "), "make cluster starts the server alike")
	assert.Equal(t, []string{"--config-file", "X", "--allow-no-auth", "start"}, ServerArgs("X"))
	config := read("deploy/temporal/config.yaml")
	assert.Contains(t, config, `(env "DYNAMIC_CONFIG_FILE_PATH")`)
	assert.Contains(t, config, `"deploy/temporal/dynamicconfig.yaml"`, "make cluster's default dynamic config is the same file")

	// The schemas: the same script as make cluster and the battery, once, before the server.
	assert.Equal(t, []string{"sh", composeMount + "/schema.sh"}, append(schema.Entrypoint, schema.Command...))
	assert.Contains(t, script, "sh deploy/temporal/schema.sh")
	assert.Equal(t, "service_completed_successfully", temporal.condition("temporal-schema"))
	assert.Equal(t, "service_healthy", temporal.condition("postgres"))
	assert.Equal(t, "service_healthy", schema.condition("postgres"))
	assert.Equal(t, "service_healthy", webUI.condition("temporal"))
	require.NotNil(t, temporal.Healthcheck, "the server has a health check")
	assert.Contains(t, strings.Join(temporal.Healthcheck.Test, " "), ":"+temporal.Environment["FRONTEND_HTTP_PORT"]+"/api/v1/system-info")
	require.NotNil(t, webUI.Healthcheck, "the UI has a health check")

	// Every variable compose sets is one the config or the script reads (a typo would silently fall back to
	// make cluster's defaults).
	reads := map[string]bool{"TEMPORAL_BROADCAST_ADDRESS": true}
	for _, m := range regexp.MustCompile(`env "([A-Z_]+)"`).FindAllStringSubmatch(config, -1) {
		reads[m[1]] = true
	}
	scriptReads := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(read("deploy/temporal/schema.sh"), -1) {
		scriptReads[m[1]] = true
	}
	for k := range temporal.Environment {
		assert.True(t, reads[k], "temporal's %s is not read by deploy/temporal/config.yaml", k)
	}
	for k := range schema.Environment {
		assert.True(t, scriptReads[k], "temporal-schema's %s is not read by deploy/temporal/schema.sh", k)
		assert.Equal(t, schema.Environment[k], temporal.Environment[k], "the schema job and the server use the same %s", k)
	}
	for _, k := range []string{"POSTGRES_SEEDS", "DBNAME", "VISIBILITY_DBNAME", "POSTGRES_USER"} {
		assert.True(t, reads[k] && scriptReads[k], "%s is read by both the config and the schema script", k)
	}

	// Clients reach the frontend where the server listens.
	frontend := "temporal:" + temporal.Environment["FRONTEND_GRPC_PORT"]
	assert.Equal(t, frontend, webUI.Environment["TEMPORAL_ADDRESS"])
	for _, name := range []string{"setup", "worker", "api"} {
		s, ok := cf.Services[name]
		require.True(t, ok, "service %s", name)
		if addr, ok := s.Environment["TEMPORAL_ADDRESS"]; ok { // anchored env is merged by compose, not by yaml.v3
			assert.Equal(t, frontend, addr, "service %s", name)
		}
	}
	assert.True(t, slices.ContainsFunc(strings.Split(read("docker-compose.yml"), "\n"), func(l string) bool {
		return strings.TrimSpace(l) == "TEMPORAL_ADDRESS: "+frontend
	}), "steward's services dial %s", frontend)
	assert.Contains(t, cf.Services["setup"].Command, "steward migrate && steward setup")
}

// TestComposeClosesUnauthenticated: docker-compose.yml publishes only what authenticates its callers. The
// Temporal frontend (which runs without authentication) is not published at all; the Web UI is bound to
// localhost unless OIDC sign-in is configured, with its auth settings present; Prometheus and Grafana (no
// sign-in) are bound to localhost; the API alone faces the network.
func TestComposeClosesUnauthenticated(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var cf composeFile
	require.NoError(t, yaml.Unmarshal(b, &cf))
	assert.Empty(t, cf.Services["temporal"].Ports, "the Temporal frontend is reachable only inside the compose network")
	ui := cf.Services["temporal-ui"]
	require.Len(t, ui.Ports, 1)
	assert.True(t, strings.HasPrefix(ui.Ports[0], "${STEWARD_UI_BIND:-127.0.0.1}:"), "the UI binds to localhost by default: %s", ui.Ports[0])
	for _, k := range []string{"TEMPORAL_AUTH_ENABLED", "TEMPORAL_AUTH_PROVIDER_URL", "TEMPORAL_AUTH_CLIENT_ID", "TEMPORAL_AUTH_CLIENT_SECRET", "TEMPORAL_AUTH_CALLBACK_URL"} {
		assert.Contains(t, ui.Environment, k, "the UI's OIDC setting %s is there to fill in", k)
	}
	assert.Equal(t, "${TEMPORAL_AUTH_ENABLED:-false}", ui.Environment["TEMPORAL_AUTH_ENABLED"])
	for name, svc := range cf.Services {
		for _, p := range svc.Ports {
			switch name {
			case "api", "temporal-ui":
			default:
				assert.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s publishes %s beyond localhost", name, p)
			}
		}
	}
	assert.NotEmpty(t, cf.Services["api"].Ports, "the API is published")
}
