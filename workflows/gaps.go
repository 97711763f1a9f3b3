package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/sla"
)

// DeadlineFrom is rule counted from at in the worker's calendars (sla.Deadline.From), computed inside a
// side effect like StartClock: a replay reuses the instant computed the first time even if the holiday
// data has changed since.
func DeadlineFrom(ctx workflow.Context, rule sla.Deadline, at time.Time) (time.Time, error) {
	type result struct {
		At  time.Time `json:"at"`
		Err string    `json:"err,omitempty"`
	}
	var r result
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		// The calendars are read inside the side effect; the checker cannot see that.
		due, err := rule.From(Calendars(), at) //workflowcheck:ignore
		if err != nil {
			return result{Err: err.Error()}
		}
		return result{At: due}
	}).Get(&r)
	if err != nil {
		return time.Time{}, err
	}
	if r.Err != "" {
		return time.Time{}, temporal.NewNonRetryableApplicationError(r.Err, "SLADeadline", nil)
	}
	return r.At, nil
}
