package escort

import (
	"errors"
	"fmt"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// PlanInput is the protection plan (护航方案) or a revision of it: which days are covered, 00:00–24:00
// China time each, and what is checked. It gives either StartsOn or Days (sla.EscortCover).
type PlanInput struct {
	// StartsOn places the days bought and not yet begun consecutively from it (YYYY-MM-DD, China): the
	// order's quantity of days for the first plan; after the escort began, those left after the days that
	// have begun, which stay.
	StartsOn string `json:"starts_on,omitempty"`
	// Days lists every covered day after this plan (YYYY-MM-DD, China), for days that do not run on (a
	// split event) or fewer than bought (extended later): at most the order's quantity, every day that has
	// begun included.
	Days    []string `json:"days,omitempty"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the plan's fields.
func (p PlanInput) Validate() error {
	switch {
	case p.StartsOn == "" && len(p.Days) == 0:
		return errors.New("starts_on or days: required")
	case p.StartsOn != "" && len(p.Days) > 0:
		return errors.New("starts_on or days, not both")
	case len(p.Days) > sla.MaxEscortDays:
		return fmt.Errorf("days: at most %d", sla.MaxEscortDays)
	}
	if _, err := sla.EscortDayStart(p.StartsOn); p.StartsOn != "" && err != nil {
		return errors.New("starts_on: YYYY-MM-DD")
	}
	for i, d := range p.Days {
		if _, err := sla.EscortDayStart(d); err != nil {
			return fmt.Errorf("days[%d]: YYYY-MM-DD", i)
		}
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
