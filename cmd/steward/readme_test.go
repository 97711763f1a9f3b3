package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeMarker comes on the line before each walk-through's ```sh fence in README.md.
const readmeMarker = "<!-- walkthrough: "

// readmeWalkthrough is what one README walk-through must leave behind: its case (order ids are
// WALK-…-$RUN), what the case's view must show, and what the script must print (a refused call's status).
type readmeWalkthrough struct {
	name   string
	caseID func(run string) string
	check  func(c *assert.CollectT, v readmeCase)
	output []string
}

// readmeCase is the part of a case view that the checks read.
type readmeCase struct {
	Stage     string `json:"stage"`
	Status    string `json:"status"`
	PartnerID string `json:"partner_id"`
	Details   struct {
		Requests []struct {
			ID          string     `json:"id"`
			Status      string     `json:"status"`
			Outcome     string     `json:"outcome"`
			CompletedAt *time.Time `json:"completed_at"`
		} `json:"requests"`
		Instances []struct {
			InstanceID    string `json:"instance_id"`
			SecurityCheck int    `json:"security_check"`
		} `json:"instances"`
		Days []struct {
			Day         string     `json:"day"`
			CheckedInAt *time.Time `json:"checked_in_at"`
		} `json:"days"`
	} `json:"details"`
	Timeline []struct {
		Event string `json:"event"`
	} `json:"timeline"`
}

func (v readmeCase) events() []string {
	var names []string
	for _, e := range v.Timeline {
		names = append(names, e.Event)
	}
	return names
}

// readmeWalkthroughs lists the walk-throughs README.md must have, in the order it runs them, and what
// each one must leave behind. A walk-through added to the README needs its entry here.
var readmeWalkthroughs = []readmeWalkthrough{
	{name: "sos", caseID: func(run string) string { return "sos:WALK-SOS-" + run }, check: func(c *assert.CollectT, v readmeCase) {
		assert.Equal(c, "closed", v.Stage)
		assert.Equal(c, "closed", v.Status)
		assert.Contains(c, []string{"demo-sec-a", "demo-sec-b"}, v.PartnerID)
		assert.Subset(c, v.events(), []string{"assets_submitted", "partner_accepted", "customer_contacted", "incident_confirmed",
			"eradicated", "report_submitted", "report_confirmed", "case_closed"})
	}},
	{name: "dengbao", caseID: func(run string) string { return "dengbao:WALK-DB-" + run }, output: []string{"HTTP 409"}, check: func(c *assert.CollectT, v readmeCase) {
		assert.Equal(c, "closed", v.Stage)
		assert.Equal(c, "closed", v.Status)
		assert.Subset(c, v.events(), []string{"service_started", "work_item_updated", "document_delivered", "assessment_recorded", "case_closed"})
		assert.NotContains(c, v.events(), "case_cancelled", "the cancel after kickoff is refused")
	}},
	{name: "butler", caseID: func(run string) string { return "butler:WALK-BUT-" + run }, check: func(c *assert.CollectT, v readmeCase) {
		assert.Equal(c, "service", v.Stage)
		if assert.Len(c, v.Details.Requests, 1) {
			r := v.Details.Requests[0]
			assert.Equal(c, "con-1", r.ID)
			assert.Equal(c, "closed", r.Status, "the request is answered")
			assert.Equal(c, "answered", r.Outcome)
		}
	}},
	{name: "hosting", caseID: func(run string) string { return "hosting:WALK-HOST-" + run }, output: []string{"HTTP 409", "1 of 1"}, check: func(c *assert.CollectT, v readmeCase) {
		assert.Equal(c, "hosted", v.Stage)
		if assert.Len(c, v.Details.Requests, 1, "the request over quota is not taken") {
			assert.NotNil(c, v.Details.Requests[0].CompletedAt, "the request within quota is completed")
		}
		if assert.Len(c, v.Details.Instances, 1) {
			assert.Equal(c, 1, v.Details.Instances[0].SecurityCheck)
		}
	}},
	{name: "escort", caseID: func(run string) string { return "escort:WALK-ESC-" + run }, check: func(c *assert.CollectT, v readmeCase) {
		assert.Equal(c, "on_duty", v.Stage)
		if assert.Len(c, v.Details.Days, 1) {
			assert.NotNil(c, v.Details.Days[0].CheckedInAt, "the covered day is checked in")
		}
	}},
	{name: "consulting", caseID: func(run string) string { return "consulting:WALK-CONS-" + run }, check: func(c *assert.CollectT, v readmeCase) {
		assert.Equal(c, "closed", v.Stage)
		assert.Equal(c, "closed", v.Status)
		assert.Subset(c, v.events(), []string{"partner_accepted", "schedule_set", "work_delivered", "document_delivered", "delivery_accepted"})
	}},
}

// TestReadmeWalkthroughs runs README.md's walk-throughs as a newcomer would after `make run`: against a
// fresh `steward dev`, each block after its setup block in `bash -euo pipefail`, with API and CREDS
// pointing at this test's stack. It then checks from the API, as the manager, that each case got as far as
// its walk-through says.
func TestReadmeWalkthroughs(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's walk-throughs need %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	blocks, order, err := readmeBlocks(string(readme))
	require.NoError(t, err)
	want := []string{"setup"}
	for _, w := range readmeWalkthroughs {
		want = append(want, w.name)
	}
	require.Equal(t, want, order, "README.md's walk-through blocks (%s…-->), in order", readmeMarker)

	dir := t.TempDir()
	creds, stop := startDev(t, dir)
	defer stop()
	run := fmt.Sprintf("t%d", time.Now().UnixNano())
	for _, w := range readmeWalkthroughs {
		t.Run(w.name, func(t *testing.T) {
			started := time.Now()
			out, err := readmeRun(t, blocks["setup"]+"\n"+blocks[w.name],
				"API="+creds.APIURL, "CREDS="+filepath.Join(dir, "dev-credentials.json"), "RUN="+run)
			require.NoError(t, err, "the README's %s walk-through failed; its output:\n%s", w.name, out)
			t.Logf("%s walk-through, %s:\n%s", w.name, time.Since(started).Round(time.Millisecond), out)
			for _, s := range w.output {
				assert.Contains(t, out, s, "the %s walk-through's output", w.name)
			}
			caseID := w.caseID(run)
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				var v readmeCase
				if readmeGet(c, creds.APIURL+"/v1/cases/"+caseID, creds.ManagerToken, &v) {
					w.check(c, v)
				}
			}, 20*time.Second, 200*time.Millisecond, "case %s after the README's %s walk-through; its output:\n%s", caseID, w.name, out)
		})
	}
}

// readmeBlocks finds the ```sh blocks that follow a "<!-- walkthrough: NAME -->" line, by name, and the
// names in the order they appear.
func readmeBlocks(readme string) (map[string]string, []string, error) {
	blocks := map[string]string{}
	var order []string
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		name, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), readmeMarker)
		if !ok {
			continue
		}
		name, ok = strings.CutSuffix(name, "-->")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("README.md:%d: want %sNAME -->", i+1, readmeMarker)
		}
		if _, dup := blocks[name]; dup {
			return nil, nil, fmt.Errorf("README.md:%d: walk-through %q appears twice", i+1, name)
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
			return nil, nil, fmt.Errorf("README.md:%d: walk-through %q: want a ```sh fence on the next line", i+1, name)
		}
		start := i + 2
		end := slices.IndexFunc(lines[start:], func(l string) bool { return strings.TrimSpace(l) == "```" })
		if end < 0 {
			return nil, nil, fmt.Errorf("README.md:%d: walk-through %q: its ```sh block is not closed", i+1, name)
		}
		blocks[name] = strings.Join(lines[start:start+end], "\n") + "\n"
		order = append(order, name)
		i = start + end
	}
	if len(order) == 0 {
		return nil, nil, fmt.Errorf("README.md has no walk-through blocks (%sNAME --> before a ```sh fence)", readmeMarker)
	}
	return blocks, order, nil
}

// readmeRun runs a script with bash -euo pipefail and the extra environment, and returns its output; a
// failing command is named at the end.
func readmeRun(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	trap := `trap 'echo "walk-through failed (exit $?) at: $BASH_COMMAND" >&2' ERR` + "\n"
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", trap+script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// readmeGet reads a JSON resource with a bearer token into v.
func readmeGet(c *assert.CollectT, url, token string, v any) bool {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if !assert.NoError(c, err) {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if !assert.NoError(c, err) {
		return false
	}
	defer res.Body.Close()
	if !assert.Equal(c, http.StatusOK, res.StatusCode, "GET %s", url) {
		return false
	}
	return assert.NoError(c, json.NewDecoder(res.Body).Decode(v))
}

// TestReadmeBlocks: the walk-through blocks are found by their marker; a README without them, or with a
// marker not followed by a closed ```sh block, is an error rather than nothing to run.
func TestReadmeBlocks(t *testing.T) {
	blocks, order, err := readmeBlocks("# x\n\n<!-- walkthrough: setup -->\n```sh\nA=1\n```\n\ntext\n<!-- walkthrough: sos -->\n```sh\necho $A\nls\n```\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"setup", "sos"}, order)
	assert.Equal(t, map[string]string{"setup": "A=1\n", "sos": "echo $A\nls\n"}, blocks)
	tests := []struct{ name, readme string }{
		{"no blocks", "# steward\n\n```sh\nmake run\n```\n"},
		{"no fence", "<!-- walkthrough: sos -->\n\n```sh\nls\n```\n"},
		{"not sh", "<!-- walkthrough: sos -->\n```go\nls\n```\n"},
		{"unclosed", "<!-- walkthrough: sos -->\n```sh\nls\n"},
		{"twice", "<!-- walkthrough: sos -->\n```sh\nls\n```\n<!-- walkthrough: sos -->\n```sh\nls\n```\n"},
		{"no name", "<!-- walkthrough:  -->\n```sh\nls\n```\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readmeBlocks(tt.readme)
			assert.Error(t, err, "readmeBlocks(%q)", tt.readme)
		})
	}
}
