//go:build tools

// Package deploy holds the configuration of steward's production topology. This file keeps in go.mod the
// official Temporal server and its SQL schema tool at the version steward embeds (go.temporal.io/server),
// which `make cluster-bin` builds into bin/ and the reliability battery's cluster topology runs.
package deploy

import (
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
