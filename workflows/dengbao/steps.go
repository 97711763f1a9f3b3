package dengbao

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// WorkItemInput updates one work item: its owner, status and evidence.
type WorkItemInput struct {
	Item     string `json:"item"`
	Owner    string `json:"owner"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
}

// Validate checks the work item's fields.
func (w WorkItemInput) Validate() error {
	if !slices.Contains(WorkItems, w.Item) {
		return fmt.Errorf("item: one of %s", strings.Join(WorkItems, ", "))
	}
	if !slices.Contains([]string{WorkPending, WorkInProgress, WorkDone}, w.Status) {
		return errors.New("status: pending, in_progress or done")
	}
	if err := workflows.CheckText("owner", w.Owner, true); err != nil {
		return err
	}
	return workflows.CheckText("evidence", w.Evidence, w.Status == WorkDone)
}

// DeliverableInput delivers a document: the rectification proposal or the final service report.
type DeliverableInput struct {
	Kind    string   `json:"kind"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the deliverable's fields.
func (d DeliverableInput) Validate() error {
	if d.Kind != DeliverableProposal && d.Kind != DeliverableServiceReport {
		return fmt.Errorf("kind: %s or %s", DeliverableProposal, DeliverableServiceReport)
	}
	if err := workflows.CheckText("summary", d.Summary, true); err != nil {
		return err
	}
	return workflows.CheckList("items", d.Items, false)
}

// AssessmentInput records one formal assessment attempt by the external assessor.
type AssessmentInput struct {
	Result   string   `json:"result"`
	Assessor string   `json:"assessor"`
	Date     string   `json:"date"` // YYYY-MM-DD, China time
	Findings []string `json:"findings"`
}

// Validate checks the assessment's fields.
func (a AssessmentInput) Validate() error {
	if a.Result != AssessmentPassed && a.Result != AssessmentFailed {
		return errors.New("result: passed or failed")
	}
	if err := workflows.CheckText("assessor", a.Assessor, true); err != nil {
		return err
	}
	if _, err := a.Day(); err != nil {
		return errors.New("date: YYYY-MM-DD")
	}
	return workflows.CheckList("findings", a.Findings, a.Result == AssessmentFailed)
}

// Day is the start of the assessment's date in China.
func (a AssessmentInput) Day() (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, a.Date, sla.China)
}

// WorkItem is a work item's state.
type WorkItem struct {
	Item      string    `json:"item"`
	Owner     string    `json:"owner,omitempty"`
	Status    string    `json:"status"`
	Evidence  string    `json:"evidence,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Assessment is a recorded assessment attempt.
type Assessment struct {
	AssessmentInput
	RecordedAt time.Time `json:"recorded_at"`
}

// Deliverable is a delivered document's record.
type Deliverable struct {
	Kind        string    `json:"kind"`
	Version     int       `json:"version"`
	DeliveredAt time.Time `json:"delivered_at"`
}
