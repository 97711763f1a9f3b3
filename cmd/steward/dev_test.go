package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/workflows"
)

// syncBuffer is an io.Writer safe for the dev stack's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDev runs `steward dev` on free ports in dir until the returned stop is called; it waits for the
// credentials file of this start.
func startDev(t *testing.T, dir string) (DevCredentials, func()) {
	t.Helper()
	credPath := filepath.Join(dir, "dev-credentials.json")
	before, _ := os.Stat(credPath)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data-dir", dir, "--api-port", "0", "--ui-port", "-1", "--temporal-port", "-1", "--log-level", "warn"}, out, out)
	}()
	var creds DevCredentials
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		st, err := os.Stat(credPath)
		if !assert.NoError(c, err) || (before != nil && !st.ModTime().After(before.ModTime())) {
			c.Errorf("no new credentials yet")
			return
		}
		b, err := os.ReadFile(credPath)
		if assert.NoError(c, err) {
			assert.NoError(c, json.Unmarshal(b, &creds))
		}
	}, 60*time.Second, 100*time.Millisecond, "output: %s", out)
	return creds, func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, out.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("steward dev did not stop; output: %s", out)
		}
	}
}

// TestDevStack is `make run` in a test: steward dev starts everything, prints and writes the credentials,
// answers /readyz, takes a signed purchase; stopped and started again on the same data dir it keeps its
// secrets and the open case.
func TestDevStack(t *testing.T) {
	dir := t.TempDir()
	creds, stop := startDev(t, dir)
	require.NotEmpty(t, creds.MarketplaceSecret)
	require.NotEmpty(t, creds.ManagerToken)
	require.Len(t, creds.Partners, len(demoPartners))
	require.NotEmpty(t, creds.UIURL)

	res, err := http.Get(creds.APIURL + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	ui, err := http.Get(creds.UIURL)
	require.NoError(t, err)
	ui.Body.Close()
	assert.Equal(t, http.StatusOK, ui.StatusCode, "the Temporal Web UI")
	// The UI's actions that bypass the service's rules are off (--ui-write-actions turns them on).
	settings, err := http.Get(creds.UIURL + "/api/v1/settings")
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.NewDecoder(settings.Body).Decode(&got))
	settings.Body.Close()
	for _, k := range []string{"WorkflowTerminateDisabled", "WorkflowResetDisabled", "WorkflowCancelDisabled", "WorkflowSignalDisabled",
		"WorkflowUpdateDisabled", "BatchActionsDisabled", "StartWorkflowDisabled"} {
		assert.Equal(t, true, got[k], "Web UI setting %s", k)
	}

	body := []byte(`{"order_id":"DEV-1","customer_id":"c-1","service":"sos","spec":"handling","quantity":1,"amount_cents":100,"currency":"CNY","paid_at":"` +
		time.Now().UTC().Format(time.RFC3339) + `","contact":{"name":"Wang","phone":"+86 138 0000 0000"}}`)
	ts := time.Now()
	req, _ := http.NewRequest(http.MethodPost, creds.APIURL+"/v1/purchases", bytes.NewReader(body))
	req.Header.Set(api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(api.HeaderSignature, api.Sign([]byte(creds.MarketplaceSecret), ts, body))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", b)
	stop()

	again, stop2 := startDev(t, dir)
	defer stop2()
	assert.Equal(t, creds.MarketplaceSecret, again.MarketplaceSecret, "secrets survive a restart")
	assert.Equal(t, creds.ManagerToken, again.ManagerToken)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		req, _ := http.NewRequest(http.MethodGet, again.APIURL+"/v1/cases/sos:DEV-1", nil)
		req.Header.Set("Authorization", "Bearer "+again.ManagerToken)
		res, err := http.DefaultClient.Do(req)
		if !assert.NoError(c, err) {
			return
		}
		defer res.Body.Close()
		var v struct{ Stage, Status string }
		assert.Equal(c, http.StatusOK, res.StatusCode)
		assert.NoError(c, json.NewDecoder(res.Body).Decode(&v))
		assert.Equal(c, "open", v.Status, "the case is still open and answering queries after the restart")
	}, 30*time.Second, 200*time.Millisecond)
}

// TestDemoPartnersServeEveryService: a newcomer's case of any service finds a demo partner in steward dev.
func TestDemoPartnersServeEveryService(t *testing.T) {
	for _, service := range workflows.Services {
		served := false
		for _, p := range demoPartners {
			served = served || slices.Contains(p.Services, service)
		}
		if !served {
			t.Errorf("no demo partner serves %s", service)
		}
	}
}
