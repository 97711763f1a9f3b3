package workflows

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Security Butler (安全管家) editions: the spec of a butler purchase.
const (
	ButlerEmergency    = "emergency"    // 应急版: one incident, valid 15 days
	ButlerEscort       = "escort"       // 护航版
	ButlerEnterprise   = "enterprise"   // 企业版
	ButlerProfessional = "professional" // 专业版: bound servers, reports e-mailed
)

// ButlerEditions lists the Security Butler editions.
var ButlerEditions = []string{ButlerEmergency, ButlerEscort, ButlerEnterprise, ButlerProfessional}

// Security Butler SLA clauses (sla's clause table holds their targets).
const (
	ClauseOnboardingContact      = "onboarding_contact"
	ClauseIncidentUrgent         = "incident_urgent"
	ClauseIncidentNormal         = "incident_normal"
	ClauseIncidentResolve        = "incident_resolve"
	ClauseVulnHigh               = "vuln_high"
	ClauseVulnMedium             = "vuln_medium"
	ClauseVulnLow                = "vuln_low"
	ClauseArchitectureConsulting = "architecture_consulting"
)

// Kinds of request inside a subscription.
const (
	RequestIncident      = "incident"
	RequestVulnerability = "vulnerability"
	RequestConsulting    = "consulting"
)

// RequestKinds lists the kinds of request.
var RequestKinds = []string{RequestIncident, RequestVulnerability, RequestConsulting}

// Incident urgencies and vulnerability severities.
const (
	UrgencyUrgent  = "urgent"
	UrgencyNormal  = "normal"
	SeverityHigh   = "high"
	SeverityMedium = "medium"
	SeverityLow    = "low"
)

// Severities lists the vulnerability severities, highest first.
var Severities = []string{SeverityHigh, SeverityMedium, SeverityLow}

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

// ButlerContactInput is the first contact with the customer that opens the service channel.
type ButlerContactInput struct {
	Note string `json:"note"`
}

// Validate checks the contact's fields.
func (c ButlerContactInput) Validate() error { return checkText("note", c.Note, true) }

// ButlerPlanInput is the service plan agreed with the customer.
type ButlerPlanInput struct {
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the plan's fields.
func (p ButlerPlanInput) Validate() error {
	if err := checkText("summary", p.Summary, true); err != nil {
		return err
	}
	return checkList("items", p.Items, true)
}

// ButlerReportInput is a periodic service report.
type ButlerReportInput struct {
	// Period is the month reported on, YYYY-MM.
	Period  string   `json:"period"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the report's fields.
func (r ButlerReportInput) Validate() error {
	if _, err := time.Parse("2006-01", r.Period); err != nil {
		return errors.New("period: YYYY-MM")
	}
	if err := checkText("summary", r.Summary, true); err != nil {
		return err
	}
	return checkList("items", r.Items, false)
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
	if _, err := time.ParseInLocation(time.DateOnly, in.Date, chinaZone); err != nil {
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
		if err := checkText(fmt.Sprintf("checks[%d].note", i), c.Note, !c.OK); err != nil {
			return err
		}
	}
	if len(in.Findings) > maxItems {
		return fmt.Errorf("findings: at most %d", maxItems)
	}
	for i, f := range in.Findings {
		if err := checkText(fmt.Sprintf("findings[%d].summary", i), f.Summary, true); err != nil {
			return err
		}
		if !slices.Contains(Severities, f.Severity) {
			return fmt.Errorf("findings[%d].severity: high, medium or low", i)
		}
	}
	return nil
}

// ButlerRequestStepInput is a customer's request inside the subscription (the marketplace's "request"
// step): an incident, a vulnerability or an architecture consultation.
type ButlerRequestStepInput struct {
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
func (r ButlerRequestStepInput) Validate() error {
	if !slices.Contains(RequestKinds, r.Kind) {
		return fmt.Errorf("kind: one of %s", strings.Join(RequestKinds, ", "))
	}
	if err := checkText("summary", r.Summary, r.RecurrenceOf == ""); err != nil {
		return err
	}
	switch r.Kind {
	case RequestIncident:
		if r.Urgency != "" && r.Urgency != UrgencyUrgent && r.Urgency != UrgencyNormal {
			return errors.New("urgency: urgent or normal")
		}
		if r.Severity != "" {
			return errors.New("severity: only for vulnerabilities")
		}
	case RequestVulnerability:
		if !slices.Contains(Severities, r.Severity) {
			return errors.New("severity: high, medium or low")
		}
	}
	if r.Kind != RequestIncident && (r.Urgency != "" || r.RecurrenceOf != "") {
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
		if id == "" || len(id) > 128 || !validID(id) {
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

// Steps of a request (ButlerRequestWorkflow), sent to the request's own workflow.
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

// ButlerRequestSteps lists the steps partner engineers send to a request (besides StepContain and
// StepReport, shared with SOS).
var ButlerRequestSteps = []string{StepRespond, StepClassify, StepContain, StepEliminate, StepRestore, StepHarden,
	StepReassess, StepReport, StepFollowUp, StepIdentify, StepImpact, StepVerify, StepFixPlan, StepRetest, StepAnswer}

// SummaryInput is a step that carries a summary (restore, reassess, report, identify, answer).
type SummaryInput struct {
	Summary string `json:"summary"`
}

// Validate checks the summary.
func (s SummaryInput) Validate() error { return checkText("summary", s.Summary, true) }

// RespondInput is the engineer's response to a request; it completes the response clock.
type RespondInput struct {
	Note string `json:"note"`
}

// Validate checks the response's fields.
func (r RespondInput) Validate() error { return checkText("note", r.Note, false) }

// ClassifyInput classifies an incident (GB/Z 20986-2007).
type ClassifyInput struct {
	IncidentClass string `json:"incident_class"`
	Summary       string `json:"summary"`
}

// Validate checks the classification's fields.
func (c ClassifyInput) Validate() error {
	if !slices.Contains(IncidentClasses, c.IncidentClass) {
		return fmt.Errorf("incident_class: one of %s", strings.Join(IncidentClasses, ", "))
	}
	return checkText("summary", c.Summary, true)
}

// ActionsInput lists what a step did (eliminate).
type ActionsInput struct {
	Actions []string `json:"actions"`
}

// Validate checks the actions.
func (a ActionsInput) Validate() error { return checkList("actions", a.Actions, true) }

// HardenInput is the hardening guidance after an incident.
type HardenInput struct {
	Recommendations []string `json:"recommendations"`
}

// Validate checks the recommendations.
func (h HardenInput) Validate() error { return checkList("recommendations", h.Recommendations, true) }

// FollowUpInput is the follow-up that closes an incident.
type FollowUpInput struct {
	Note string `json:"note"`
}

// Validate checks the follow-up's fields.
func (f FollowUpInput) Validate() error { return checkText("note", f.Note, true) }

// ImpactInput is a vulnerability's impact scope.
type ImpactInput struct {
	Scope   string `json:"scope"`
	ZeroDay bool   `json:"zero_day"`
}

// Validate checks the impact's fields.
func (i ImpactInput) Validate() error { return checkText("scope", i.Scope, true) }

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
func (f FixPlanInput) Validate() error { return checkList("steps", f.Steps, true) }

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
	return checkText("note", r.Note, false)
}

// UrgencyInput raises or lowers an incident's urgency.
type UrgencyInput struct {
	Urgency string `json:"urgency"`
}

// Validate checks the urgency.
func (u UrgencyInput) Validate() error {
	if u.Urgency != UrgencyUrgent && u.Urgency != UrgencyNormal {
		return errors.New("urgency: urgent or normal")
	}
	return nil
}

// responseClause is the clause of a request's response clock.
func responseClause(kind, edition, urgency, severity string) string {
	switch kind {
	case RequestIncident:
		if edition == ButlerEmergency || urgency == UrgencyUrgent {
			return ClauseIncidentUrgent
		}
		return ClauseIncidentNormal
	case RequestVulnerability:
		return "vuln_" + severity
	}
	return ClauseArchitectureConsulting
}
