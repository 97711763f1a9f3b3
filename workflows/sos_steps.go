package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Incident classes (GB/Z 20986-2007) that a confirm step may name.
const (
	ClassMalware                = "malware"
	ClassNetworkAttack          = "network_attack"
	ClassInformationDestruction = "information_destruction"
	ClassContentSecurity        = "content_security"
)

// IncidentClasses lists the incident classes.
var IncidentClasses = []string{ClassMalware, ClassNetworkAttack, ClassInformationDestruction, ClassContentSecurity}

// Customer verdicts on the report, relayed by the marketplace.
const (
	StepReportConfirm = "report_confirm"
	StepReportDispute = "report_dispute"
	// StepDecline is a partner declining an offered case.
	StepDecline = "decline"
)

// Limits on free text in steps.
const (
	maxText  = 4000
	maxItems = 100
)

func checkText(field, s string, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s: required", field)
	}
	if utf8.RuneCountInString(s) > maxText {
		return fmt.Errorf("%s: at most %d characters", field, maxText)
	}
	return nil
}

func checkList(field string, items []string, required bool) error {
	if required && len(items) == 0 {
		return fmt.Errorf("%s: at least one item", field)
	}
	if len(items) > maxItems {
		return fmt.Errorf("%s: at most %d items", field, maxItems)
	}
	for i, it := range items {
		if err := checkText(fmt.Sprintf("%s[%d]", field, i), it, true); err != nil {
			return err
		}
	}
	return nil
}

// DeclineInput is a partner declining an offered case.
type DeclineInput struct {
	Reason string `json:"reason"`
}

// Validate checks the decline's fields.
func (d DeclineInput) Validate() error { return checkText("reason", d.Reason, false) }

// ContactInput is the engineer's first contact with the customer; it completes the response clock.
type ContactInput struct {
	Note string `json:"note"`
}

// Validate checks the contact's fields.
func (c ContactInput) Validate() error { return checkText("note", c.Note, false) }

// ConfirmInput confirms and classifies the incident (事件确认).
type ConfirmInput struct {
	// SecurityIncident false closes the case as out of scope.
	SecurityIncident *bool  `json:"security_incident"`
	IncidentClass    string `json:"incident_class"`
	IncidentType     string `json:"incident_type"`
	Summary          string `json:"summary"`
	// AttackOngoing decides whether containment is needed.
	AttackOngoing bool `json:"attack_ongoing"`
}

// Validate checks the confirmation's fields.
func (c ConfirmInput) Validate() error {
	if c.SecurityIncident == nil {
		return errors.New("security_incident: required (true or false)")
	}
	if err := checkText("summary", c.Summary, true); err != nil {
		return err
	}
	if !*c.SecurityIncident {
		return nil
	}
	if !slices.Contains(IncidentClasses, c.IncidentClass) {
		return fmt.Errorf("incident_class: one of %s", strings.Join(IncidentClasses, ", "))
	}
	return checkText("incident_type", c.IncidentType, true)
}

// ContainInput lists the containment actions taken (事件抑制).
type ContainInput struct {
	Actions []string `json:"actions"`
}

// Validate checks the containment's fields.
func (c ContainInput) Validate() error { return checkList("actions", c.Actions, true) }

// EradicateInput is what eradication cleaned (事件处理). MalwareRemoved false breaches the effect clause.
type EradicateInput struct {
	Cleaned        []string `json:"cleaned"`
	MalwareRemoved *bool    `json:"malware_removed"`
	Notes          string   `json:"notes"`
}

// Validate checks the eradication's fields.
func (e EradicateInput) Validate() error {
	if e.MalwareRemoved == nil {
		return errors.New("malware_removed: required (true or false)")
	}
	if err := checkList("cleaned", e.Cleaned, true); err != nil {
		return err
	}
	return checkText("notes", e.Notes, false)
}

// AnalyzeInput is the root-cause analysis (入侵原因分析): a cause, or Undetermined.
type AnalyzeInput struct {
	Cause        string `json:"cause"`
	Undetermined bool   `json:"undetermined"`
}

// Validate checks the analysis's fields.
func (a AnalyzeInput) Validate() error {
	if a.Undetermined && strings.TrimSpace(a.Cause) != "" {
		return errors.New("cause: give a cause or undetermined, not both")
	}
	return checkText("cause", a.Cause, !a.Undetermined)
}

// ReportInput is the report step: what the partner writes into the report.
type ReportInput struct {
	Summary         string   `json:"summary"`
	Recommendations []string `json:"recommendations"`
}

// Validate checks the report's fields.
func (r ReportInput) Validate() error {
	if err := checkText("summary", r.Summary, true); err != nil {
		return err
	}
	return checkList("recommendations", r.Recommendations, true)
}

// VerdictInput is the customer's confirmation or dispute of the report.
type VerdictInput struct {
	// Rating (1-5, optional on confirm) is the customer's score of the partner's work.
	Rating  int    `json:"rating"`
	Comment string `json:"comment"`
}

// Validate checks the verdict's fields; a dispute needs a comment.
func (v VerdictInput) Validate(dispute bool) error {
	if v.Rating < 0 || v.Rating > 5 || (dispute && v.Rating != 0) {
		return errors.New("rating: 1 to 5, on confirm only")
	}
	return checkText("comment", v.Comment, dispute)
}

// CloseInput closes the case (结束): the follow-up of results.
type CloseInput struct {
	FollowUp string `json:"follow_up"`
}

// Validate checks the close's fields.
func (c CloseInput) Validate() error { return checkText("follow_up", c.FollowUp, true) }
