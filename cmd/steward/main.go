// Command steward runs steward: `steward dev` starts everything embedded; `steward worker` and
// `steward api` run against a Temporal cluster and PostgreSQL; the rest manage the database, search
// attributes, partners and tokens.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

const usage = `steward runs managed-security service cases as durable Temporal workflows.

Usage:
  steward dev        start everything embedded: Temporal, its Web UI, the database, the worker and the API
  steward temporal   start only the embedded Temporal server and its Web UI (run worker and api beside it)
  steward worker     run a worker against TEMPORAL_ADDRESS and DATABASE_URL
  steward api        serve the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL
  steward migrate    migrate the database at DATABASE_URL
  steward setup      create the namespace if it is missing and register steward's search attributes (idempotent)
  steward partners   add | update | list | disable | enable partner companies
  steward tokens     issue | list | rotate | revoke partner engineers' and managers' tokens
  steward webhooks   add | list | disable | rotate | test | deliveries | redeliver event webhook subscribers

Run "steward COMMAND -h" for a command's flags; every flag has an environment variable too.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "steward:", err)
		}
		stop()
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "temporal":
		return runTemporal(ctx, rest, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, stderr)
	case "api":
		return runAPI(ctx, rest, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "setup":
		return runSetup(ctx, rest, stdout, stderr)
	case "partners":
		return runPartners(ctx, rest, stdout, stderr)
	case "tokens":
		return runTokens(ctx, rest, stdout, stderr)
	case "webhooks":
		return runWebhooks(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// flags is a FlagSet whose flags default to environment variables.
type flags struct{ *flag.FlagSet }

func newFlags(name string, stderr io.Writer) flags {
	fs := flag.NewFlagSet("steward "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return flags{fs}
}

func (f flags) str(p *string, name, env, def, help string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.StringVar(p, name, def, help+" ($"+env+")")
}

func (f flags) int(p *int, name, env string, def int, help string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	f.IntVar(p, name, def, help+" ($"+env+")")
}

func (f flags) boolean(p *bool, name, env string, def bool, help string) {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	f.BoolVar(p, name, def, help+" ($"+env+")")
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
