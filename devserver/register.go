package devserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

// readyTimeout bounds registration and the readiness waits when ctx has no earlier deadline.
const readyTimeout = 30 * time.Second

// register registers the namespace and the search attributes through the frontend, as any
// client would, skipping what is already there, and waits until the frontend accepts a query on
// every search attribute: only then are they usable for starts, upserts and lists.
func (s *Server) register(ctx context.Context, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.frontend,
		Namespace: o.Namespace,
		Logger:    sdklog.NewStructuredLogger(s.logger),
	})
	if err != nil {
		return fmt.Errorf("devserver: connect to frontend %s: %w", s.frontend, err)
	}
	defer c.Close()

	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        o.Namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	created := err == nil
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("devserver: register namespace %q: %w", o.Namespace, err)
	}

	added, err := EnsureSearchAttributes(ctx, c, o.Namespace, o.SearchAttributes)
	if err != nil {
		return fmt.Errorf("devserver: %w", err)
	}
	if err := waitUsable(ctx, c, o); err != nil {
		return err
	}
	if created || len(added) > 0 {
		// The frontend sees the new namespace or aliases now; history and matching keep their own
		// namespace caches, refreshed on the same interval. Give them one refresh.
		select {
		case <-time.After(namespaceRefresh + 200*time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("devserver: wait for namespace %q: %w", o.Namespace, ctx.Err())
		}
	}
	return nil
}

// EnsureSearchAttributes registers on namespace the search attributes of want that it lacks and
// returns their names, sorted; it is idempotent. One that exists with another type is an error: its
// type cannot be changed. `steward setup` uses it against a real cluster.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enumspb.IndexedValueType) ([]string, error) {
	if len(want) == 0 {
		return nil, nil
	}
	var resp *operatorservice.ListSearchAttributesResponse
	err := retry(ctx, func() (err error) {
		resp, err = c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %q: %w", namespace, err)
	}
	missing := make(map[string]enumspb.IndexedValueType)
	for name, t := range want {
		have, ok := resp.GetCustomAttributes()[name]
		if !ok {
			if _, system := resp.GetSystemAttributes()[name]; system {
				return nil, fmt.Errorf("search attribute %q is a system search attribute", name)
			}
			missing[name] = t
			continue
		}
		if have != t {
			return nil, fmt.Errorf("search attribute %q exists in namespace %q as %s, not %s", name, namespace, have, t)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(missing))
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return nil, fmt.Errorf("add search attributes %v to namespace %q: %w", names, namespace, err)
	}
	return names, nil
}

// waitUsable waits until the frontend answers a visibility query naming every search attribute,
// which it does only once its namespace cache knows the namespace and the attributes' aliases,
// and until it reaches matching, which joins the membership ring in the background.
func waitUsable(ctx context.Context, c client.Client, o Options) error {
	query := make([]string, 0, len(o.SearchAttributes))
	for _, name := range slices.Sorted(maps.Keys(o.SearchAttributes)) {
		query = append(query, fmt.Sprintf("`%s` IS NULL", name))
	}
	err := retry(ctx, func() error {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: o.Namespace,
			Query:     strings.Join(query, " OR "),
		})
		if err != nil {
			return err
		}
		_, err = c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: o.Namespace,
			TaskQueue: &taskqueuepb.TaskQueue{Name: "steward-devserver-readiness", Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("devserver: wait for namespace %q and its search attributes: %w", o.Namespace, err)
	}
	return nil
}

// retry calls f every 100 ms until it succeeds or ctx ends, returning f's last error then.
func retry(ctx context.Context, f func() error) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
}
