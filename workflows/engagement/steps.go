package engagement

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// ScheduleInput sets (or, before delivery, moves) the engagement's dates, China time.
type ScheduleInput struct {
	StartsOn string `json:"starts_on"`
	EndsOn   string `json:"ends_on"`
	Summary  string `json:"summary"`
}

// Validate checks the schedule's fields.
func (s ScheduleInput) Validate() error {
	start, err := time.ParseInLocation(time.DateOnly, s.StartsOn, sla.China)
	if err != nil {
		return errors.New("starts_on: YYYY-MM-DD")
	}
	end, err := time.ParseInLocation(time.DateOnly, s.EndsOn, sla.China)
	if err != nil {
		return errors.New("ends_on: YYYY-MM-DD")
	}
	if end.Before(start) {
		return errors.New("ends_on: not before starts_on")
	}
	if end.After(start.AddDate(1, 0, 0)) {
		return errors.New("ends_on: at most a year after starts_on")
	}
	return workflows.CheckText("summary", s.Summary, true)
}

// DeliverInput reports the engagement's work delivered.
type DeliverInput struct {
	Summary string `json:"summary"`
}

// Validate checks the delivery's fields.
func (d DeliverInput) Validate() error { return workflows.CheckText("summary", d.Summary, true) }

// DeliverableInput is the engagement's document: its title, summary and items (findings, fixes,
// advice, course outline…).
type DeliverableInput struct {
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the deliverable's fields.
func (d DeliverableInput) Validate() error {
	if strings.TrimSpace(d.Title) == "" {
		return errors.New("title: required")
	}
	if utf8.RuneCountInString(d.Title) > 200 {
		return errors.New("title: at most 200 characters")
	}
	if err := workflows.CheckText("summary", d.Summary, true); err != nil {
		return err
	}
	return workflows.CheckList("items", d.Items, false)
}

// AcceptDeliveryInput is the customer's acceptance, with an optional rating (1-5) and comment.
type AcceptDeliveryInput struct {
	Rating  int    `json:"rating,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// Validate checks the acceptance's fields.
func (a AcceptDeliveryInput) Validate() error {
	if a.Rating < 0 || a.Rating > 5 {
		return errors.New("rating: 1 to 5")
	}
	return workflows.CheckText("comment", a.Comment, false)
}

// RejectDeliveryInput is the customer's rejection; the comment says what is missing.
type RejectDeliveryInput struct {
	Comment string `json:"comment"`
}

// Validate checks the rejection's fields.
func (r RejectDeliveryInput) Validate() error { return workflows.CheckText("comment", r.Comment, true) }
