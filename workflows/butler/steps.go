package butler

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// RequestKinds lists the kinds of request inside a subscription.
var RequestKinds = []string{sla.RequestIncident, sla.RequestVulnerability, sla.RequestConsulting}

// Severities lists the vulnerability severities, highest first.
var Severities = []string{sla.SeverityHigh, sla.SeverityMedium, sla.SeverityLow}

// Daily inspection areas (SPEC.md "Daily inspection").
const (
	InspectSecurityProducts = "security_products" // enabled, licensed, configured
	InspectNetwork          = "network"           // traffic trend, abnormal access, DDoS/CC
	InspectHosts            = "hosts"             // risky ports, weak passwords, root login, brute force, middleware vulns
	InspectApplication      = "application"       // availability, webshell, defacement, web vulns
	InspectData             = "data"              // SQL audit, bulk exfiltration
)

// InspectionAreas lists the daily inspection areas.
var InspectionAreas = []string{InspectSecurityProducts, InspectNetwork, InspectHosts, InspectApplication, InspectData}

// Limits of a subscription.
const (
	// MaxRecipients bounds the report e-mail recipients of the professional edition.
	MaxRecipients = 10
	// MaxOpenRequests bounds the requests handled at once in one subscription.
	MaxOpenRequests = 50
	// MaxBoundServers bounds the servers bound to a professional edition.
	MaxBoundServers = 1000
)

// ContactInput is the first contact with the customer that opens the service channel.
type ContactInput struct {
	Note string `json:"note"`
}

// Validate checks the contact's fields.
func (c ContactInput) Validate() error { return workflows.CheckText("note", c.Note, true) }

// PlanInput is the service plan agreed with the customer.
type PlanInput struct {
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the plan's fields.
func (p PlanInput) Validate() error {
	if err := workflows.CheckText("summary", p.Summary, true); err != nil {
		return err
	}
	return workflows.CheckList("items", p.Items, true)
}

// Kinds of service report.
const (
	// ReportMonthly is a monthly service report, the default.
	ReportMonthly = "monthly"
	// ReportTerm is the term report of a yearly edition, 《安全管家年度服务报告》: due within
	// sla.TermReportDeadline of the term's end, accepted from sla.TermReportOpens before it.
	ReportTerm = "term"
)

// ReportInput is a service report: a monthly one, or the term report (Kind term).
type ReportInput struct {
	// Kind is monthly (or empty) or term.
	Kind string `json:"kind,omitempty"`
	// Period is the month reported on, YYYY-MM; a term report covers the term and gives none.
	Period  string   `json:"period,omitempty"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the report's fields.
func (r ReportInput) Validate() error {
	switch {
	case r.Kind != "" && r.Kind != ReportMonthly && r.Kind != ReportTerm:
		return errors.New("kind: monthly or term")
	case r.Kind == ReportTerm && r.Period != "":
		return errors.New("period: not for a term report, which covers the whole term")
	case r.Kind != ReportTerm:
		if _, err := time.Parse("2006-01", r.Period); err != nil {
			return errors.New("period: YYYY-MM")
		}
	}
	if err := workflows.CheckText("summary", r.Summary, true); err != nil {
		return err
	}
	return workflows.CheckList("items", r.Items, false)
}

// InspectionCheck is one checked area of a daily inspection.
type InspectionCheck struct {
	Item string `json:"item"`
	OK   bool   `json:"ok"`
	Note string `json:"note,omitempty"`
}

// InspectionFinding is a problem a daily inspection found; OpenVuln opens a vulnerability request for it.
type InspectionFinding struct {
	Summary  string `json:"summary"`
	Severity string `json:"severity"`
	OpenVuln bool   `json:"open_vuln,omitempty"`
}

// InspectionInput is one daily inspection round.
type InspectionInput struct {
	// Date is the day inspected, YYYY-MM-DD in China.
	Date     string              `json:"date"`
	Checks   []InspectionCheck   `json:"checks"`
	Findings []InspectionFinding `json:"findings"`
}

// Validate checks the inspection's fields.
func (in InspectionInput) Validate() error {
	if _, err := time.ParseInLocation(time.DateOnly, in.Date, sla.China); err != nil {
		return errors.New("date: YYYY-MM-DD")
	}
	if len(in.Checks) == 0 {
		return errors.New("checks: at least one area")
	}
	var seen []string
	for i, c := range in.Checks {
		if !slices.Contains(InspectionAreas, c.Item) {
			return fmt.Errorf("checks[%d].item: one of %s", i, strings.Join(InspectionAreas, ", "))
		}
		if slices.Contains(seen, c.Item) {
			return fmt.Errorf("checks[%d].item: %s listed twice", i, c.Item)
		}
		seen = append(seen, c.Item)
		if err := workflows.CheckText(fmt.Sprintf("checks[%d].note", i), c.Note, !c.OK); err != nil {
			return err
		}
	}
	if len(in.Findings) > workflows.MaxItems {
		return fmt.Errorf("findings: at most %d", workflows.MaxItems)
	}
	for i, f := range in.Findings {
		if err := workflows.CheckText(fmt.Sprintf("findings[%d].summary", i), f.Summary, true); err != nil {
			return err
		}
		if !slices.Contains(Severities, f.Severity) {
			return fmt.Errorf("findings[%d].severity: high, medium or low", i)
		}
	}
	return nil
}

// RequestStepInput is a customer's request inside the subscription (the marketplace's "request" step): an
// incident, a vulnerability or an architecture consultation.
type RequestStepInput struct {
	Kind    string `json:"kind"`
	Summary string `json:"summary"`
	// Urgency of an incident: urgent or normal (the emergency edition responds in 15 minutes either way).
	Urgency string `json:"urgency,omitempty"`
	// Severity of a vulnerability: high, medium or low.
	Severity string `json:"severity,omitempty"`
	// RecurrenceOf names the incident (inc-N) this one recurs, inside the emergency edition's 15 days.
	RecurrenceOf string `json:"recurrence_of,omitempty"`
}

// Validate checks the request's fields; the edition's own rules are the workflow's.
func (r RequestStepInput) Validate() error {
	if !slices.Contains(RequestKinds, r.Kind) {
		return fmt.Errorf("kind: one of %s", strings.Join(RequestKinds, ", "))
	}
	if err := workflows.CheckText("summary", r.Summary, r.RecurrenceOf == ""); err != nil {
		return err
	}
	switch r.Kind {
	case sla.RequestIncident:
		if r.Urgency != "" && r.Urgency != sla.UrgencyUrgent && r.Urgency != sla.UrgencyNormal {
			return errors.New("urgency: urgent or normal")
		}
		if r.Severity != "" {
			return errors.New("severity: only for vulnerabilities")
		}
	case sla.RequestVulnerability:
		if !slices.Contains(Severities, r.Severity) {
			return errors.New("severity: high, medium or low")
		}
	}
	if r.Kind != sla.RequestIncident && (r.Urgency != "" || r.RecurrenceOf != "") {
		return errors.New("urgency and recurrence_of: only for incidents")
	}
	if r.RecurrenceOf != "" && !strings.HasPrefix(r.RecurrenceOf, "inc-") {
		return errors.New("recurrence_of: an incident's id, inc-N")
	}
	return nil
}

// ServersInput binds servers to a professional edition. Unbind is refused: binding cannot be undone.
type ServersInput struct {
	Bind   []string `json:"bind"`
	Unbind []string `json:"unbind,omitempty"`
}

// Validate checks the servers' fields.
func (s ServersInput) Validate() error {
	if len(s.Unbind) > 0 {
		return nil // refused by the workflow with the reason
	}
	if len(s.Bind) == 0 {
		return errors.New("bind: at least one instance id")
	}
	if len(s.Bind) > MaxBoundServers {
		return fmt.Errorf("bind: at most %d instance ids", MaxBoundServers)
	}
	for i, id := range s.Bind {
		if id == "" || len(id) > 128 || !workflows.ValidID(id) {
			return fmt.Errorf("bind[%d]: an instance id of 1-128 letters, digits, '-', '_' and '.'", i)
		}
	}
	return nil
}

// RecipientsInput sets who receives the professional edition's report e-mail.
type RecipientsInput struct {
	Emails []string `json:"emails"`
}

// Validate checks the addresses: plain addresses, at most MaxRecipients, no repeats.
func (r RecipientsInput) Validate() error {
	if len(r.Emails) > MaxRecipients {
		return fmt.Errorf("emails: at most %d recipients", MaxRecipients)
	}
	var seen []string
	for i, e := range r.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" || len(e) > 254 {
			return fmt.Errorf("emails[%d]: %q is not a plain e-mail address", i, e)
		}
		if slices.Contains(seen, strings.ToLower(e)) {
			return fmt.Errorf("emails[%d]: %q listed twice", i, e)
		}
		seen = append(seen, strings.ToLower(e))
	}
	return nil
}

// Steps of a request (RequestWorkflow), sent to the request's own workflow, besides
// workflows.StepContain and workflows.StepReport.
const (
	StepRespond   = "respond"
	StepClassify  = "classify"
	StepEliminate = "eliminate"
	StepRestore   = "restore"
	StepHarden    = "harden"
	StepReassess  = "reassess"
	StepFollowUp  = "follow_up"
	StepIdentify  = "identify"
	StepImpact    = "impact"
	StepVerify    = "verify"
	StepFixPlan   = "fix_plan"
	StepRetest    = "retest"
	StepAnswer    = "answer"
	// StepUrgency comes from the marketplace: the customer raises or lowers an incident's urgency.
	StepUrgency = "urgency"
)

// RequestSteps lists the steps partner engineers send to a request.
var RequestSteps = []string{StepRespond, StepClassify, workflows.StepContain, StepEliminate, StepRestore, StepHarden,
	StepReassess, workflows.StepReport, StepFollowUp, StepIdentify, StepImpact, StepVerify, StepFixPlan, StepRetest, StepAnswer}

// RequestUpdates lists every step a request takes, each its own Workflow Update: the partners' and the
// marketplace's urgency.
var RequestUpdates = append(slices.Clone(RequestSteps), StepUrgency)

// SummaryInput is a step that carries a summary (restore, reassess, report, identify, answer).
type SummaryInput struct {
	Summary string `json:"summary"`
}

// Validate checks the summary.
func (s SummaryInput) Validate() error { return workflows.CheckText("summary", s.Summary, true) }

// RespondInput is the engineer's response to a request; it completes the response clock.
type RespondInput struct {
	Note string `json:"note"`
}

// Validate checks the response's fields.
func (r RespondInput) Validate() error { return workflows.CheckText("note", r.Note, false) }

// ClassifyInput classifies an incident (GB/Z 20986-2007).
type ClassifyInput struct {
	IncidentClass string `json:"incident_class"`
	Summary       string `json:"summary"`
}

// Validate checks the classification's fields.
func (c ClassifyInput) Validate() error {
	if !slices.Contains(sla.IncidentClasses, c.IncidentClass) {
		return fmt.Errorf("incident_class: one of %s", strings.Join(sla.IncidentClasses, ", "))
	}
	return workflows.CheckText("summary", c.Summary, true)
}

// ActionsInput lists what a step did (contain, eliminate).
type ActionsInput struct {
	Actions []string `json:"actions"`
}

// Validate checks the actions.
func (a ActionsInput) Validate() error { return workflows.CheckList("actions", a.Actions, true) }

// HardenInput is the hardening guidance after an incident.
type HardenInput struct {
	Recommendations []string `json:"recommendations"`
}

// Validate checks the recommendations.
func (h HardenInput) Validate() error {
	return workflows.CheckList("recommendations", h.Recommendations, true)
}

// FollowUpInput is the follow-up that closes an incident.
type FollowUpInput struct {
	Note string `json:"note"`
}

// Validate checks the follow-up's fields.
func (f FollowUpInput) Validate() error { return workflows.CheckText("note", f.Note, true) }

// ImpactInput is a vulnerability's impact scope.
type ImpactInput struct {
	Scope   string `json:"scope"`
	ZeroDay bool   `json:"zero_day"`
}

// Validate checks the impact's fields.
func (i ImpactInput) Validate() error { return workflows.CheckText("scope", i.Scope, true) }

// VerifyInput verifies a vulnerability: whether it exists, and its severity.
type VerifyInput struct {
	Exists   *bool  `json:"exists"`
	Severity string `json:"severity,omitempty"`
}

// Validate checks the verification's fields.
func (v VerifyInput) Validate() error {
	if v.Exists == nil {
		return errors.New("exists: required (true or false)")
	}
	if *v.Exists && !slices.Contains(Severities, v.Severity) {
		return errors.New("severity: high, medium or low")
	}
	return nil
}

// FixPlanInput is a vulnerability's fix plan.
type FixPlanInput struct {
	Steps []string `json:"steps"`
}

// Validate checks the plan's steps.
func (f FixPlanInput) Validate() error { return workflows.CheckList("steps", f.Steps, true) }

// RetestInput is the retest after a fix; not fixed sends the vulnerability back to its fix plan.
type RetestInput struct {
	Fixed *bool  `json:"fixed"`
	Note  string `json:"note,omitempty"`
}

// Validate checks the retest's fields.
func (r RetestInput) Validate() error {
	if r.Fixed == nil {
		return errors.New("fixed: required (true or false)")
	}
	return workflows.CheckText("note", r.Note, false)
}

// UrgencyInput raises or lowers an incident's urgency.
type UrgencyInput struct {
	Urgency string `json:"urgency"`
}

// Validate checks the urgency.
func (u UrgencyInput) Validate() error {
	if u.Urgency != sla.UrgencyUrgent && u.Urgency != sla.UrgencyNormal {
		return errors.New("urgency: urgent or normal")
	}
	return nil
}
