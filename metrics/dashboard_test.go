package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/metrics"
)

// TestDashboard: deploy/grafana/steward.json is a dashboard whose every steward_ metric is one this
// package serves (with the histogram suffixes Prometheus adds), with unique panel ids.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/steward.json")
	require.NoError(t, err)
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	assert.Equal(t, "steward", dash.UID)

	s := dbtest.MustOpen(t)
	seed(t, s, time.Now().UTC())
	metrics.WebhookAttempt(metrics.WebhookDelivered, time.Millisecond)
	metrics.NotificationAttempt(metrics.NotificationSent)
	r := metrics.New(metrics.Options{Store: s})
	fams, err := r.Gather()
	require.NoError(t, err)
	served := map[string]bool{}
	for _, f := range fams {
		served[f.GetName()] = true
	}
	served["steward_api_requests_total"], served["steward_api_request_duration_seconds"] = true, true // no request yet in this test

	name := regexp.MustCompile(`\b(steward|temporal)_[a-z_]+`)
	ids := map[int]bool{}
	used := 0
	for _, p := range dash.Panels {
		assert.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				if !strings.HasPrefix(n, "steward_") {
					continue
				}
				used++
				base := n
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(n, suf); ok && served[b] {
						base = b
					}
				}
				assert.True(t, served[base], "panel %q queries %s, which is not served", p.Title, n)
			}
		}
	}
	assert.Greater(t, used, 20)
}
