// Package worker registers steward's workflows and activities on the task queue, and lists the case
// lifecycles by service for the worker and the API: the one package that knows every lifecycle (the
// lifecycles themselves know only the kernel).
package worker

import (
	"log/slog"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/butler"
	"github.com/steward-oss/steward/workflows/dengbao"
	"github.com/steward-oss/steward/workflows/engagement"
	"github.com/steward-oss/steward/workflows/escort"
	"github.com/steward-oss/steward/workflows/hosting"
	"github.com/steward-oss/steward/workflows/sos"
)

// New returns a worker for workflows.TaskQueue with every workflow and acts' activities registered. When
// it starts, it tells the running cases whose clocks were planned without holiday data its calendars
// (workflows.Calendars, set before) have to re-plan them (Replanner).
func New(c client.Client, acts *activities.Activities, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, pollerOptions(opts))
	Register(w, acts)
	var logger *slog.Logger
	if acts != nil {
		logger = acts.Logger
	}
	return newReplanningWorker(w, c, logger)
}

// Register registers every workflow and acts' activities on r; tests use it with their own registry.
func Register(r interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivity(a any)
}, acts *activities.Activities) {
	for _, reg := range Registrations() {
		r.RegisterWorkflowWithOptions(reg.Workflow, workflow.RegisterOptions{Name: reg.Name})
	}
	r.RegisterActivity(acts)
}

// Lifecycles maps each service of the catalogue to its lifecycle; the five per-engagement services share one.
var Lifecycles = map[string]workflows.Lifecycle{
	workflows.ServiceSOS:        sos.Lifecycle,
	workflows.ServiceDengbao:    dengbao.Lifecycle,
	workflows.ServiceButler:     butler.Lifecycle,
	workflows.ServiceHosting:    hosting.Lifecycle,
	workflows.ServiceEscort:     escort.Lifecycle,
	workflows.ServiceConsulting: engagement.Lifecycle,
	workflows.ServiceTraining:   engagement.Lifecycle,
	workflows.ServiceAssessment: engagement.Lifecycle,
	workflows.ServiceCodeAudit:  engagement.Lifecycle,
	workflows.ServiceOnboarding: engagement.Lifecycle,
}

// Registrations lists every workflow of every lifecycle once, with the type name it is registered by.
func Registrations() []workflows.Registration {
	var out []workflows.Registration
	seen := map[string]bool{}
	for _, lc := range []workflows.Lifecycle{sos.Lifecycle, dengbao.Lifecycle, butler.Lifecycle, hosting.Lifecycle, escort.Lifecycle, engagement.Lifecycle} {
		for _, r := range lc.Workflows {
			if !seen[r.Name] {
				seen[r.Name] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// Validate checks an order for its service's lifecycle.
func Validate(in workflows.CaseInput) error {
	lc, ok := Lifecycles[in.Service]
	if !ok {
		return workflows.ValidateCaseInput(in) // names the unknown service
	}
	return lc.Validate(in)
}

// pollerOptions is opts with autoscaling workflow-task pollers, unless opts chose its own. The SDK's default
// is two mixed pollers that both poll the sticky queue for as long as it reports a backlog: when many
// cached cases' clocks fall due at once (a morning of response clocks), nobody polls the normal queue, where
// a new case's first task and an evicted case's next one wait, and buying stalls until the wave has drained
// (TestNewCaseStartsDuringAClockWave; figure 4 of the benchmark saw first tasks wait 78-223 s on average). Autoscaling
// pollers poll the two queues separately and always keep one on the normal queue.
func pollerOptions(opts sdkworker.Options) sdkworker.Options {
	if opts.MaxConcurrentWorkflowTaskPollers == 0 && opts.WorkflowTaskPollerBehavior == nil {
		opts.WorkflowTaskPollerBehavior = sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
	}
	return opts
}
