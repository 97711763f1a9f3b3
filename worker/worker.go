// Package worker registers steward's workflows and activities on the task queue.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/lifecycles"
)

// New returns a worker for workflows.TaskQueue with every workflow and acts' activities registered.
func New(c client.Client, acts *activities.Activities, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, opts)
	Register(w, acts)
	return w
}

// Register registers every workflow and acts' activities on r; tests use it with their own registry.
func Register(r interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivity(a any)
}, acts *activities.Activities) {
	for _, reg := range lifecycles.Registrations() {
		r.RegisterWorkflowWithOptions(reg.Workflow, workflow.RegisterOptions{Name: reg.Name})
	}
	r.RegisterActivity(acts)
}
