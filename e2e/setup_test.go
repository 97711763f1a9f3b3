package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/workflows"
)

// TestEnsureSearchAttributes is `steward setup` against a running cluster: it adds what is missing,
// a second run adds nothing, and a type clash is an error.
func TestEnsureSearchAttributes(t *testing.T) {
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{InMemory: true, FrontendPort: devserver.PickFreePort, Namespace: "setup"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: "setup"})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	added, err := devserver.EnsureSearchAttributes(ctx, c, "setup", workflows.SearchAttributes())
	require.NoError(t, err)
	assert.Equal(t, []string{"AmountCents", "Assignment", "CaseStage", "CustomerId", "NextDeadline", "OrderId", "PartnerId", "RefundCents", "RefundPercent",
		"ServiceType", "SlaReplan", "SlaStatus"}, added)
	added, err = devserver.EnsureSearchAttributes(ctx, c, "setup", workflows.SearchAttributes())
	require.NoError(t, err)
	assert.Empty(t, added)
	_, err = devserver.EnsureSearchAttributes(ctx, c, "setup", map[string]enumspb.IndexedValueType{"CaseStage": enumspb.INDEXED_VALUE_TYPE_INT})
	assert.ErrorContains(t, err, "CaseStage")
}
