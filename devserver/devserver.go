// Package devserver runs an embedded Temporal server (SQLite persistence) and the Temporal Web UI
// inside the current process, for `steward dev` and for real-server tests.
//
// The server keeps its state in <DataDir>/temporal.db (SQLite in WAL mode), so workflows survive a
// restart; the namespace and its custom search attributes are registered idempotently on every
// start. Nothing is downloaded: the UI's assets are embedded in github.com/temporalio/ui-server.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/temporal"
)

// Defaults used when the matching Options field is left zero (UIPort excepted: 0 means no UI, so
// callers that want the UI pass DefaultUIPort).
const (
	DefaultIP           = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"
)

// PickFreePort is the port value that asks Start to pick a free port (used by tests running in
// parallel).
const PickFreePort = -1

// Retention is how long closed workflows are kept in a namespace that Start registers.
// An existing namespace keeps whatever retention it has.
const Retention = 7 * 24 * time.Hour

// DatabaseFile is the name of the SQLite file under Options.DataDir.
const DatabaseFile = "temporal.db"

// Options configure Start.
type Options struct {
	// DataDir holds the SQLite file <DataDir>/temporal.db, created if missing. Must be "" with InMemory.
	DataDir string
	// InMemory keeps all state in an in-memory SQLite database (tests). The server's SQLite plugin
	// never closes a database, so its memory is held until the process exits.
	InMemory bool
	// IP the frontend and the UI listen on; default 127.0.0.1.
	IP string
	// FrontendPort is the frontend gRPC port; 0 means DefaultFrontendPort, -1 picks a free port.
	FrontendPort int
	// UIPort is the Web UI's HTTP port; 0 means no UI, -1 picks a free port (`steward dev` passes DefaultUIPort).
	UIPort int
	// UIWriteActions lets the Web UI terminate, reset, cancel, signal, update, pause and start workflows and
	// run batch actions. Off by default: they bypass steward's API and the service's rules (a terminated
	// case owes no refund row, a reset replays steps), so managers watch in the UI and act through the API.
	UIWriteActions bool
	// Namespace is registered (idempotently) on every start; default "default".
	Namespace string
	// SearchAttributes are custom search attributes registered (idempotently) on Namespace.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's own logs at warn level and above; nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded Temporal server and, optionally, its Web UI.
type Server struct {
	namespace string
	frontend  string // dialable host:port
	uiURL     string
	logger    *slog.Logger

	temporal temporal.Server
	quiet    atomic.Bool // silences the server's logs from Stop on
	ui       *uiserver.Server
	uiDone   chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// FrontendHostPort returns the host:port an SDK client dials, e.g. "127.0.0.1:7233".
func (s *Server) FrontendHostPort() string { return s.frontend }

// UIURL returns the Web UI's base URL, e.g. "http://127.0.0.1:8233", or "" without a UI.
func (s *Server) UIURL() string { return s.uiURL }

// Namespace returns the namespace Start registered.
func (s *Server) Namespace() string { return s.namespace }

// Start starts the Temporal server, registers the namespace and search attributes, waits until
// they are usable, and starts the Web UI. ctx bounds the registration and readiness waits; the
// server itself runs until Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	logger := slog.New(minLevel{o.Logger.Handler(), slog.LevelWarn})

	ports, err := reservePorts(o)
	if err != nil {
		return nil, err
	}
	dialIP := o.IP
	if ip := net.ParseIP(o.IP); ip.IsUnspecified() {
		dialIP = "127.0.0.1"
	}
	s := &Server{
		namespace: o.Namespace,
		frontend:  net.JoinHostPort(dialIP, strconv.Itoa(ports.frontend)),
		logger:    logger,
	}

	sqlCfg, err := sqliteConfig(o)
	if err != nil {
		return nil, err
	}
	cfg := serverConfig(o, ports, sqlCfg, s.frontend)

	srv, err := newTemporal(cfg, newServerLogger(logger, &s.quiet))
	if err != nil {
		return nil, err
	}
	s.temporal = srv

	if err := s.register(ctx, o); err != nil {
		_ = s.stopTemporal()
		return nil, err
	}

	if o.UIPort != 0 {
		if err := s.startUI(ctx, o, dialIP, ports.ui); err != nil {
			_ = s.stopTemporal()
			return nil, err
		}
	}
	return s, nil
}

// newTemporal builds and starts the server. The server reports some start-up failures through
// its logger's Fatal, which our adapter turns into a panic; they come back here as errors.
func newTemporal(cfg *config.Config, logger serverLogger) (srv temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: start temporal server: %v", r)
			if srv != nil {
				logger.quiet.Store(true)
				_ = stopQuietly(srv)
			}
		}
	}()
	srv, err = temporal.NewServer(
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicConfig()),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		logger.quiet.Store(true)
		_ = stopQuietly(srv)
		return nil, fmt.Errorf("devserver: start temporal server: %w", err)
	}
	return srv, nil
}

// stopQuietly stops a server that may be half started; the server's Stop panics on some
// half-initialised states, which must not take the caller down.
func stopQuietly(srv temporal.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stop temporal server: %v", r)
		}
	}()
	return srv.Stop()
}

// Stop shuts down the UI, then the server. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.ui != nil {
			s.ui.Stop()
			<-s.uiDone
		}
		s.stopErr = s.stopTemporal()
	})
	return s.stopErr
}

func (s *Server) stopTemporal() error {
	s.quiet.Store(true)
	if err := stopQuietly(s.temporal); err != nil {
		return fmt.Errorf("devserver: %w", err)
	}
	return nil
}

func (o Options) withDefaults() (Options, error) {
	if o.IP == "" {
		o.IP = DefaultIP
	}
	if net.ParseIP(o.IP) == nil {
		return o, fmt.Errorf("devserver: invalid IP %q", o.IP)
	}
	if o.FrontendPort == 0 {
		o.FrontendPort = DefaultFrontendPort
	}
	if err := checkPortOption("frontend", o.FrontendPort); err != nil {
		return o, err
	}
	if o.UIPort != 0 {
		if err := checkPortOption("UI", o.UIPort); err != nil {
			return o, err
		}
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	switch {
	case o.InMemory && o.DataDir != "":
		return o, errors.New("devserver: DataDir must be empty with InMemory")
	case !o.InMemory && o.DataDir == "":
		return o, errors.New("devserver: DataDir is required unless InMemory")
	case strings.ContainsAny(o.DataDir, "?#"):
		// The directory becomes part of a SQLite URI, where these start the query and fragment.
		return o, fmt.Errorf("devserver: DataDir %q must not contain '?' or '#'", o.DataDir)
	}
	for name, typ := range o.SearchAttributes {
		if name == "" {
			return o, errors.New("devserver: empty search attribute name")
		}
		if _, ok := enumspb.IndexedValueType_name[int32(typ)]; !ok || typ == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return o, fmt.Errorf("devserver: search attribute %q has invalid type %d", name, typ)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func checkPortOption(name string, port int) error {
	if port == PickFreePort || (port > 0 && port <= 65535) {
		return nil
	}
	return fmt.Errorf("devserver: invalid %s port %d (want 1-65535, or -1 for a free port)", name, port)
}
