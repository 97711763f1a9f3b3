package sos

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/steward-oss/steward/sla"

	"github.com/steward-oss/steward/workflows"
)

// MaxHosts bounds one asset list.
const MaxHosts = 1000

// Host is one ECS host in the asset list (排查对象).
type Host struct {
	InstanceID string `json:"instance_id"`
	IP         string `json:"ip"`
	OS         string `json:"os"`
}

// AssetsInput is the customer's asset list, the payload of StepAssets.
type AssetsInput struct {
	Hosts []Host `json:"hosts"`
}

// Validate checks the asset list's fields.
func (a AssetsInput) Validate() error {
	if len(a.Hosts) == 0 {
		return errors.New("hosts: at least one host is required")
	}
	if len(a.Hosts) > MaxHosts {
		return fmt.Errorf("hosts: at most %d hosts", MaxHosts)
	}
	seen := make(map[string]bool, len(a.Hosts))
	for i, h := range a.Hosts {
		if h.InstanceID == "" {
			return fmt.Errorf("hosts[%d].instance_id: required", i)
		}
		if len(h.InstanceID) > 128 || len(h.OS) > 128 {
			return fmt.Errorf("hosts[%d]: instance_id and os are at most 128 characters", i)
		}
		if seen[h.InstanceID] {
			return fmt.Errorf("hosts[%d].instance_id: %q listed twice", i, h.InstanceID)
		}
		seen[h.InstanceID] = true
		if _, err := netip.ParseAddr(h.IP); err != nil {
			return fmt.Errorf("hosts[%d].ip: %q is not an IP address", i, h.IP)
		}
	}
	return nil
}

// ContactInput is the engineer's first contact with the customer; it completes the response clock.
type ContactInput struct {
	Note string `json:"note"`
}

// Validate checks the contact's fields.
func (c ContactInput) Validate() error { return workflows.CheckText("note", c.Note, false) }

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
	if err := workflows.CheckText("summary", c.Summary, true); err != nil {
		return err
	}
	if !*c.SecurityIncident {
		return nil
	}
	if !slices.Contains(sla.IncidentClasses, c.IncidentClass) {
		return fmt.Errorf("incident_class: one of %s", strings.Join(sla.IncidentClasses, ", "))
	}
	return workflows.CheckText("incident_type", c.IncidentType, true)
}

// ContainInput lists the containment actions taken (事件抑制).
type ContainInput struct {
	Actions []string `json:"actions"`
}

// Validate checks the containment's fields.
func (c ContainInput) Validate() error { return workflows.CheckList("actions", c.Actions, true) }

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
	if err := workflows.CheckList("cleaned", e.Cleaned, true); err != nil {
		return err
	}
	return workflows.CheckText("notes", e.Notes, false)
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
	return workflows.CheckText("cause", a.Cause, !a.Undetermined)
}

// ReportInput is the report step: what the partner writes into the report.
type ReportInput struct {
	Summary         string   `json:"summary"`
	Recommendations []string `json:"recommendations"`
}

// Validate checks the report's fields.
func (r ReportInput) Validate() error {
	if err := workflows.CheckText("summary", r.Summary, true); err != nil {
		return err
	}
	return workflows.CheckList("recommendations", r.Recommendations, true)
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
	return workflows.CheckText("comment", v.Comment, dispute)
}
