package escort

import (
	"errors"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// PlanInput is the protection plan (护航方案): when the covered days start and what is checked.
type PlanInput struct {
	// StartsOn is the first covered day, YYYY-MM-DD in China time; the order's quantity of consecutive
	// days from it are covered, 00:00–24:00 each.
	StartsOn string   `json:"starts_on"`
	Summary  string   `json:"summary"`
	Items    []string `json:"items"`
}

// Validate checks the plan's fields.
func (p PlanInput) Validate() error {
	if _, err := sla.EscortDayStart(p.StartsOn); err != nil {
		return errors.New("starts_on: YYYY-MM-DD")
	}
	if err := workflows.CheckText("summary", p.Summary, true); err != nil {
		return err
	}
	return workflows.CheckList("items", p.Items, true)
}

// CheckinInput is the on-duty engineer's check-in (值守签到) for a covered day.
type CheckinInput struct {
	Day      string `json:"day"` // YYYY-MM-DD, China time
	Engineer string `json:"engineer"`
	Notes    string `json:"notes"`
}

// Validate checks the check-in's fields.
func (c CheckinInput) Validate() error {
	if _, err := sla.EscortDayStart(c.Day); err != nil {
		return errors.New("day: YYYY-MM-DD")
	}
	if err := workflows.CheckText("engineer", c.Engineer, true); err != nil {
		return err
	}
	if len(c.Engineer) > 200 {
		return errors.New("engineer: at most 200 bytes")
	}
	return workflows.CheckText("notes", c.Notes, false)
}
