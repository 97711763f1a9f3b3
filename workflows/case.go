// Package workflows holds steward's case lifecycles as Temporal workflows: one file per service, with the
// names of its updates, queries and search attributes as exported constants beside the workflow that owns them.
//
// This file holds what every lifecycle shares: the task queue, workflow IDs, search attributes, the case
// view that queries return, and the step update's message types.
package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the task queue that every steward workflow and activity runs on.
const TaskQueue = "steward"

// Service names, as the marketplace sends them in a purchase.
const (
	ServiceSOS        = "sos"
	ServiceDengbao    = "dengbao"
	ServiceButler     = "butler"
	ServiceHosting    = "hosting"
	ServiceEscort     = "escort"
	ServiceConsulting = "consulting"
	ServiceTraining   = "training"
	ServiceAssessment = "assessment"
	ServiceCodeAudit  = "code_audit"
	ServiceOnboarding = "onboarding"
)

// Services lists every service of the catalogue.
var Services = []string{
	ServiceSOS, ServiceDengbao, ServiceButler, ServiceHosting, ServiceEscort,
	ServiceConsulting, ServiceTraining, ServiceAssessment, ServiceCodeAudit, ServiceOnboarding,
}

// KnownService reports whether s names a service of the catalogue.
func KnownService(s string) bool { return slices.Contains(Services, s) }

// Case statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// SLA statuses, as the SlaStatus search attribute and the case view carry them.
const (
	SLAOnTrack  = "on_track"
	SLAAtRisk   = "at_risk"
	SLABreached = "breached"
)

// Names of the messages every case workflow answers.
const (
	// QueryCaseView returns the case's CaseView.
	QueryCaseView = "case_view"
	// UpdateStep carries one lifecycle step (StepInput) from a partner engineer, a customer or the system.
	UpdateStep = "step"
)

// Search attributes that every case workflow keeps current, for managers filtering in the Web UI.
// None of them holds personal data: customer and order are opaque marketplace identifiers.
var (
	AttrServiceType   = temporal.NewSearchAttributeKeyKeyword("ServiceType")
	AttrCaseStage     = temporal.NewSearchAttributeKeyKeyword("CaseStage")
	AttrPartnerID     = temporal.NewSearchAttributeKeyKeyword("PartnerId")
	AttrCustomerID    = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	AttrOrderID       = temporal.NewSearchAttributeKeyKeyword("OrderId")
	AttrSLAStatus     = temporal.NewSearchAttributeKeyKeyword("SlaStatus")
	AttrRefundPercent = temporal.NewSearchAttributeKeyInt64("RefundPercent")
	AttrNextDeadline  = temporal.NewSearchAttributeKeyTime("NextDeadline")
)

// SearchAttributes returns the custom search attributes steward registers on its namespace, by name.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	keys := []interface {
		GetName() string
		GetValueType() enumspb.IndexedValueType
	}{AttrServiceType, AttrCaseStage, AttrPartnerID, AttrCustomerID, AttrOrderID, AttrSLAStatus, AttrRefundPercent, AttrNextDeadline}
	m := make(map[string]enumspb.IndexedValueType, len(keys))
	for _, k := range keys {
		m[k.GetName()] = k.GetValueType()
	}
	return m
}

// CaseWorkflowID derives a case's workflow ID from its service and order, so that a repeated purchase
// callback finds the same case. The case ID is the workflow ID.
func CaseWorkflowID(service, orderID string) string { return service + ":" + orderID }

// ParseCaseID splits a case ID into its service and order ID.
func ParseCaseID(caseID string) (service, orderID string, err error) {
	service, orderID, ok := strings.Cut(caseID, ":")
	if !ok || !KnownService(service) || orderID == "" {
		return "", "", fmt.Errorf("malformed case id %q", caseID)
	}
	return service, orderID, nil
}

// CaseInput starts a case workflow: the paid order, without the customer's contact details (they stay in
// the orders table, out of workflow history).
type CaseInput struct {
	CaseID      string    `json:"case_id"`
	OrderID     string    `json:"order_id"`
	CustomerID  string    `json:"customer_id"`
	Service     string    `json:"service"`
	Spec        string    `json:"spec,omitempty"`
	Quantity    int       `json:"quantity"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	PaidAt      time.Time `json:"paid_at"`
	// AcceptTimeout is how long an offered partner has to accept; zero means DefaultAcceptTimeout.
	AcceptTimeout time.Duration `json:"accept_timeout,omitempty"`
	// HistoryLimit is the history length at which a long case continues as new; zero means the default.
	HistoryLimit int `json:"history_limit,omitempty"`
}

// ValidateCaseInput checks a case's starting order; the API runs the same check before it starts a case.
func ValidateCaseInput(in CaseInput) error {
	switch {
	case in.OrderID == "":
		return errors.New("order_id: required")
	case len(in.OrderID) > 64 || !validID(in.OrderID):
		return errors.New("order_id: 1-64 characters of letters, digits, '-', '_' and '.'")
	case in.CustomerID == "":
		return errors.New("customer_id: required")
	case len(in.CustomerID) > 64 || !validID(in.CustomerID):
		return errors.New("customer_id: 1-64 characters of letters, digits, '-', '_' and '.'")
	case !KnownService(in.Service):
		return fmt.Errorf("service: unknown service %q; one of %s", in.Service, strings.Join(Services, ", "))
	case in.Service == ServiceSOS && !slices.Contains(SOSSpecs, in.Spec):
		return fmt.Errorf("spec: %q is not an SOS spec; one of %s", in.Spec, strings.Join(SOSSpecs, ", "))
	case in.Quantity < 1 || in.Quantity > 100000:
		return errors.New("quantity: between 1 and 100000")
	case in.Service == ServiceButler && !slices.Contains(ButlerEditions, in.Spec):
		return fmt.Errorf("spec: %q is not a Security Butler edition; one of %s", in.Spec, strings.Join(ButlerEditions, ", "))
	case in.Service == ServiceEscort && in.Quantity > MaxEscortDays:
		return fmt.Errorf("quantity: an escort covers at most %d days", MaxEscortDays)
	case in.AmountCents < 0 || in.AmountCents > MaxAmountCents:
		return fmt.Errorf("amount_cents: between 0 and %d", int64(MaxAmountCents))
	case len(in.Currency) != 3 || strings.ToUpper(in.Currency) != in.Currency:
		return errors.New("currency: a three-letter upper-case ISO 4217 code such as CNY")
	case in.PaidAt.IsZero():
		return errors.New("paid_at: required")
	case in.CaseID != CaseWorkflowID(in.Service, in.OrderID):
		return fmt.Errorf("case_id: must be %q", CaseWorkflowID(in.Service, in.OrderID))
	}
	return nil
}

// MaxAmountCents bounds an order's amount (10 billion in the currency's units), far above any real order
// and far below where refund arithmetic could overflow.
const MaxAmountCents = 1_000_000_000_000

func validID(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// activityOptions apply to steward's activities: short, retried with backoff until they succeed, since every
// write is idempotent.
var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// CaseView is what a query returns and what the API shows: the case's current stage, clocks, refund and
// timeline. Times are UTC and marshal as RFC 3339.
type CaseView struct {
	CaseID      string          `json:"case_id"`
	WorkflowID  string          `json:"workflow_id"`
	Service     string          `json:"service"`
	Spec        string          `json:"spec,omitempty"`
	Stage       string          `json:"stage"`
	Status      string          `json:"status"`
	PartnerID   string          `json:"partner_id,omitempty"`
	CustomerID  string          `json:"customer_id"`
	OrderID     string          `json:"order_id"`
	AmountCents int64           `json:"amount_cents"`
	Currency    string          `json:"currency,omitempty"`
	PaidAt      time.Time       `json:"paid_at"`
	SLA         []SLAEntry      `json:"sla"`
	Refund      Refund          `json:"refund"`
	Timeline    []TimelineEntry `json:"timeline"`
	// Details is the service's own state (a 等保 case's work items, assessments, deliverables and term).
	Details any `json:"details,omitempty"`
}

// SLAEntry is one clause's clock in the case view.
type SLAEntry struct {
	Clause        string     `json:"clause"`
	DueAt         *time.Time `json:"due_at,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	Status        string     `json:"status"`
	Breached      bool       `json:"breached"`
	RefundPercent int        `json:"refund_percent"`
}

// Refund is the refund a case owes its customer so far.
type Refund struct {
	Percent     int   `json:"percent"`
	AmountCents int64 `json:"amount_cents"`
}

// TimelineEntry is one line of a case's timeline and audit trail.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
}

// Actor kinds that take steps.
const (
	ActorPartner     = "partner"
	ActorMarketplace = "marketplace"
	ActorManager     = "manager"
	ActorSystem      = "system"
)

// StepInput is one lifecycle step sent through UpdateStep.
type StepInput struct {
	// Step names the step (e.g. "assets", "accept", "contact").
	Step string `json:"step"`
	// Actor is who sends it (ActorPartner, ActorMarketplace, ...).
	Actor string `json:"actor"`
	// PartnerID is the partner company of the engineer sending a partner step.
	PartnerID string `json:"partner_id,omitempty"`
	// ActorName identifies the sender for the timeline (a token's name); never personal data.
	ActorName string `json:"actor_name,omitempty"`
	// At is when the API received the step.
	At time.Time `json:"at"`
	// Payload is the step's own fields, as JSON.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Rejection types: a validator refuses a step with an ApplicationError of one of these types, which the
// client receives unchanged and the API maps to 409 or 422.
const (
	// RejectConflict: wrong stage, wrong partner, too late.
	RejectConflict = "conflict"
	// RejectInvalid: missing or malformed fields.
	RejectInvalid = "invalid"
)

func conflictf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), RejectConflict, nil)
}

func invalidf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), RejectInvalid, nil)
}

// Lifecycle is how a service's cases run: the workflow, its start argument, and the steps partners send.
type Lifecycle struct {
	Workflow any
	Input    func(CaseInput) any
	Steps    []string
}

// Lifecycles are the services steward runs so far, by service; the API starts and steers cases with them.
var Lifecycles = map[string]Lifecycle{
	ServiceSOS:        {Workflow: SOSWorkflow, Input: func(c CaseInput) any { return c }, Steps: SOSSteps},
	ServiceDengbao:    {Workflow: DengbaoWorkflow, Input: func(c CaseInput) any { return DengbaoInput{CaseInput: c} }, Steps: DengbaoSteps},
	ServiceButler:     {Workflow: ButlerWorkflow, Input: func(c CaseInput) any { return ButlerInput{CaseInput: c} }, Steps: ButlerSteps},
	ServiceHosting:    {Workflow: HostingWorkflow, Input: func(c CaseInput) any { return HostingInput{CaseInput: c} }, Steps: HostingSteps},
	ServiceEscort:     {Workflow: EscortWorkflow, Input: func(c CaseInput) any { return EscortInput{CaseInput: c} }, Steps: EscortSteps},
	ServiceConsulting: engagement,
	ServiceTraining:   engagement,
	ServiceAssessment: engagement,
	ServiceCodeAudit:  engagement,
	ServiceOnboarding: engagement,
}

var engagement = Lifecycle{Workflow: EngagementWorkflow, Input: func(c CaseInput) any { return EngagementInput{CaseInput: c} }, Steps: EngagementSteps}
