package devserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// startUI starts the Web UI in a goroutine and waits until it answers its health check.
func (s *Server) startUI(ctx context.Context, o Options, dialIP string, port int) error {
	s.uiURL = "http://" + net.JoinHostPort(dialIP, strconv.Itoa(port))
	cfg := &uiconfig.Config{
		Host:                o.IP,
		Port:                port,
		TemporalGRPCAddress: s.frontend,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		HideLogs:            true, // no banner, no line per request
		DisableNewsFetch:    true, // works offline
		CORS: uiconfig.CORS{
			// The UI talks to its own origin; list both names a browser may use for it.
			AllowOrigins: []string{
				s.uiURL,
				"http://" + net.JoinHostPort("localhost", strconv.Itoa(port)),
			},
			// Plain HTTP: a Secure CSRF cookie would never come back and every write would fail.
			CookieInsecure: true,
		},
		// Auth zero value: disabled. RefreshInterval zero: the config is read once.
	}
	off := !o.UIWriteActions
	cfg.WorkflowTerminateDisabled, cfg.WorkflowResetDisabled, cfg.WorkflowCancelDisabled = off, off, off
	cfg.WorkflowSignalDisabled, cfg.WorkflowUpdateDisabled, cfg.WorkflowPauseDisabled = off, off, off
	cfg.StartWorkflowDisabled, cfg.BatchActionsDisabled, cfg.ActivityCommandsDisabled = off, off, off

	ui, err := newUI(cfg)
	if err != nil {
		return err
	}
	s.ui = ui
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		// Start returns nil once Stop closes the server. On a bind failure the UI server exits
		// the process itself (echo's Logger.Fatal); reservePorts checked the port just before.
		_ = ui.Start()
	}()

	if err := waitHTTP(ctx, s.uiURL+"/healthz"); err != nil {
		ui.Stop()
		<-s.uiDone
		s.ui = nil
		return fmt.Errorf("devserver: web UI at %s: %w", s.uiURL, err)
	}
	return nil
}

// newUI builds the UI server, which panics on a bad config; that comes back as an error.
func newUI(cfg *uiconfig.Config) (ui *uiserver.Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("devserver: web UI config: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: create web UI: %v", r)
		}
	}()
	return uiserver.NewServer(server_options.WithConfigProvider(cfg)), nil
}

// waitHTTP polls url until it answers 200, for at most 10 s or until ctx ends.
func waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}
