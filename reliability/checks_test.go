package reliability

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzTargets are the API's fuzz targets `make reliability` runs, each for fuzzTime.
var fuzzTargets = []string{"FuzzPurchase", "FuzzStep", "FuzzSignatureMutation"}

const fuzzTime = 30 * time.Second

// TestChecks runs the battery's other parts as `make reliability` does — the hostile request table, the
// secrets test, the replay of every recorded history and each fuzz target for 30 s — and writes their
// figures into the report. It runs only with STEWARD_RELIABILITY=full and STEWARD_RELIABILITY_REPORT set;
// CI runs the same tests (fuzz seeds only) in make test.
func TestChecks(t *testing.T) {
	out := os.Getenv(EnvReport)
	if os.Getenv(EnvMode) != "full" || out == "" {
		t.Skip("runs with " + EnvMode + "=full and " + EnvReport + " (make reliability)")
	}
	var s strings.Builder
	fmt.Fprintf(&s, "Run: %s.\n\n| check | command | result |\n|---|---|---|\n", time.Now().UTC().Format("2006-01-02"))
	row := func(check, cmd, result string) { fmt.Fprintf(&s, "| %s | `%s` | %s |\n", check, cmd, result) }

	res := goTest(t, "-count=1", "-v", "-run", "^TestHostileRequests$", "./e2e/")
	row("hostile requests (4xx problem+json, 0 5xx, case unchanged)", "go test -run TestHostileRequests -v ./e2e/",
		firstMatch(res, `hostile requests: .*`))
	res = goTest(t, "-count=1", "-v", "-run", "^TestSecretsStayOut$", "./e2e/")
	row("secrets, tokens and contact out of logs, tables, search attributes, history, chat", "go test -run TestSecretsStayOut ./e2e/", passFail(res))
	res = goTest(t, "-count=1", "-v", "-run", "^TestReplayRecordedHistories$|^TestRecordedHistoriesCoverEveryWorkflow$", "./workflows/")
	row("replay of recorded histories, every workflow kind", "go test -run 'TestReplay|TestRecordedHistories' ./workflows/",
		fmt.Sprintf("%d histories replayed; %s", strings.Count(res, "--- PASS: TestReplayRecordedHistories/"), passFail(res)))
	for _, f := range fuzzTargets {
		res = goTest(t, "-run", "^$", "-fuzz", "^"+f+"$", "-fuzztime", fuzzTime.String(), "./api/")
		row("fuzz "+f, "go test -run '^$' -fuzz "+f+" -fuzztime 30s ./api/", lastMatch(res, `elapsed: [0-9a-z.]+, execs: [0-9]+`)+"; "+passFail(res))
	}
	require.NoError(t, writeReport(out, "checks", s.String()))
	t.Log("\n" + s.String())
}

// goTest runs go test in the module root and returns its output; a failing run fails the test.
func goTest(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"test"}, args...)...)
	cmd.Dir = ".."
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Errorf("go test %s: %v\n%s", strings.Join(args, " "), err, Tail(buf.String(), 4000))
	}
	return buf.String()
}

func firstMatch(s, re string) string {
	if m := regexp.MustCompile(re).FindString(s); m != "" {
		return m
	}
	return "no figure found"
}

func lastMatch(s, re string) string {
	if m := regexp.MustCompile(re).FindAllString(s, -1); len(m) > 0 {
		return m[len(m)-1]
	}
	return "no figure found"
}

func passFail(s string) string {
	if strings.Contains(s, "\nok ") || strings.Contains(s, "\nPASS") {
		return "pass"
	}
	return "FAIL"
}
