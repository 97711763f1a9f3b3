// Package workflows is steward's case kernel: what every lifecycle shares — the order a case starts
// from, its view, the step message, the vocabulary (names.go) and the event catalogue (events.go), and
// Case, which records, notifies, assigns partners, keeps SLA clocks (clocks.go) and continues as new.
// Each lifecycle is a package under it (workflows/sos, workflows/dengbao, workflows/butler,
// workflows/hosting, workflows/escort, workflows/engagement) that imports the kernel, sla and
// activities, never a sibling; worker.Lifecycles lists them for the worker and the API.
package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/sla"
)

// TaskQueue is the task queue that every steward workflow and activity runs on.
const TaskQueue = "steward"

// Service names, as the marketplace sends them in a purchase (sla owns the catalogue).
const (
	ServiceSOS        = sla.ServiceSOS
	ServiceDengbao    = sla.ServiceDengbao
	ServiceButler     = sla.ServiceButler
	ServiceHosting    = sla.ServiceHosting
	ServiceEscort     = sla.ServiceEscort
	ServiceConsulting = sla.ServiceConsulting
	ServiceTraining   = sla.ServiceTraining
	ServiceAssessment = sla.ServiceAssessment
	ServiceCodeAudit  = sla.ServiceCodeAudit
	ServiceOnboarding = sla.ServiceOnboarding
)

// Services lists every service of the catalogue.
var Services = []string{
	ServiceSOS, ServiceDengbao, ServiceButler, ServiceHosting, ServiceEscort,
	ServiceConsulting, ServiceTraining, ServiceAssessment, ServiceCodeAudit, ServiceOnboarding,
}

// KnownService reports whether s names a service of the catalogue.
func KnownService(s string) bool { return slices.Contains(Services, s) }

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
	// AttrRefundCents is the refund owed so far, in cents of the order's currency.
	AttrRefundCents = temporal.NewSearchAttributeKeyInt64("RefundCents")
	// AttrAmountCents is the order's amount, in cents.
	AttrAmountCents = temporal.NewSearchAttributeKeyInt64("AmountCents")
	// AttrAssignment tells an offer from an accepted assignment: offered, accepted or none.
	AttrAssignment = temporal.NewSearchAttributeKeyKeyword("Assignment")
)

// SearchAttributes returns the custom search attributes steward registers on its namespace, by name.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	keys := []interface {
		GetName() string
		GetValueType() enumspb.IndexedValueType
	}{AttrServiceType, AttrCaseStage, AttrPartnerID, AttrCustomerID, AttrOrderID, AttrSLAStatus, AttrRefundPercent, AttrNextDeadline,
		AttrRefundCents, AttrAmountCents, AttrAssignment, AttrSLAReplan}
	m := make(map[string]enumspb.IndexedValueType, len(keys))
	for _, k := range keys {
		m[k.GetName()] = k.GetValueType()
	}
	return m
}

// StartOptions are the options a case's workflow starts with, from the purchase: its ID, a repeated
// start finding the running or closed case (never a second one), the search attributes managers filter
// on (opaque identifiers and states only, no personal data), and the Web UI's static summary and details.
func StartOptions(in CaseInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       in.CaseID,
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			AttrServiceType.ValueSet(in.Service), AttrOrderID.ValueSet(in.OrderID), AttrCustomerID.ValueSet(in.CustomerID),
			AttrCaseStage.ValueSet(StageAssignment), AttrSLAStatus.ValueSet(SLAOnTrack), AttrRefundPercent.ValueSet(0),
			AttrRefundCents.ValueSet(0), AttrAmountCents.ValueSet(in.AmountCents), AttrAssignment.ValueSet(AssignmentNone),
		),
		StaticSummary: StaticSummary(in),
		StaticDetails: StaticDetails(in),
	}
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

// ValidateCaseInput checks what every case's starting order needs; Lifecycle.Validate adds the service's
// own rules (specs, quantity), and the API runs that before it starts a case.
func ValidateCaseInput(in CaseInput) error {
	switch {
	case in.OrderID == "":
		return errors.New("order_id: required")
	case len(in.OrderID) > 64 || !ValidID(in.OrderID):
		return errors.New("order_id: 1-64 characters of letters, digits, '-', '_' and '.'")
	case in.CustomerID == "":
		return errors.New("customer_id: required")
	case len(in.CustomerID) > 64 || !ValidID(in.CustomerID):
		return errors.New("customer_id: 1-64 characters of letters, digits, '-', '_' and '.'")
	case !KnownService(in.Service):
		return fmt.Errorf("service: unknown service %q; one of %s", in.Service, strings.Join(Services, ", "))
	case in.Quantity < 1 || in.Quantity > 100000:
		return errors.New("quantity: between 1 and 100000")
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

// Continued is a long-running case's start argument: the order, and the state a run that continued as
// new carries (nil on the first run). It marshals like a CaseInput, which is what the API starts it with.
type Continued[S any] struct {
	CaseInput
	State *S `json:"state,omitempty"`
}

// Ended is how a long-running case ended: its last stage and final state.
type Ended[S any] struct {
	CaseID string `json:"case_id"`
	Stage  string `json:"stage"`
	State  S      `json:"state"`
}

// MaxAmountCents bounds an order's amount (10 billion in the currency's units), far above any real order
// and far below where refund arithmetic could overflow.
const MaxAmountCents = 1_000_000_000_000

// ValidID reports whether s is made of letters, digits, '-', '_' and '.' only (identifiers from outside).
func ValidID(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ActivityOptions apply to steward's activities: short, retried with backoff until they succeed, since every
// write is idempotent.
var ActivityOptions = workflow.ActivityOptions{
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

// SLAEntry is one clause's clock in the case view. Status is one of SLAStatuses; Margin says by how much
// the clause was met or missed, or how long is left ("met 7 min before due", "late by 2 h").
type SLAEntry struct {
	Clause        string     `json:"clause"`
	DueAt         *time.Time `json:"due_at,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	Status        string     `json:"status"`
	Margin        string     `json:"margin,omitempty"`
	Breached      bool       `json:"breached"`
	RefundPercent int        `json:"refund_percent"`
}

// Refund is the refund a case owes its customer so far: a percent of the order and the amount in cents.
type Refund = sla.Refund

// TimelineEntry is one line of a case's timeline and audit trail.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
	// By is who took the step, when the reader may know: managers see every engineer and manager, a
	// partner its own engineers only, the customer no one.
	By *TimelineBy `json:"by,omitempty"`
}

// TimelineBy names who took a step: the bearer token's holder (its name), the engineer's partner company,
// and the token's id.
type TimelineBy struct {
	Name      string `json:"name"`
	PartnerID string `json:"partner_id,omitempty"`
	TokenID   string `json:"token_id,omitempty"`
}

// StepInput is one lifecycle step, sent as the Workflow Update named for the step.
type StepInput struct {
	// Step names the step (e.g. "assets", "accept", "contact").
	Step string `json:"step"`
	// Actor is who sends it (ActorPartner, ActorMarketplace, ...).
	Actor string `json:"actor"`
	// PartnerID is the partner company of the engineer sending a partner step.
	PartnerID string `json:"partner_id,omitempty"`
	// ActorName identifies the sender for the timeline: for a partner's or a manager's step, the bearer
	// token's holder (the token's name, an engineer's or manager's handle), which the step's timeline lines
	// carry as their author (activities.Event By); never a secret.
	ActorName string `json:"actor_name,omitempty"`
	// TokenID is the id (never the secret) of the bearer token that sent a partner's or manager's step, for
	// the audit trail.
	TokenID string `json:"token_id,omitempty"`
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
	// RejectQuota: a request beyond its quota (a conflict, 409); the error's details are a QuotaRefusal,
	// which the API announces as the request.quota_refused webhook event.
	RejectQuota = "quota_refused"
)

// QuotaRefusal is what a request refused for its quota asked and what was left.
type QuotaRefusal struct {
	Kind       string `json:"kind"`
	InstanceID string `json:"instance_id"`
	Used       int    `json:"used"`
	Quota      int    `json:"quota"`
	QuotaState string `json:"quota_state"`
	TermEnd    string `json:"term_end"`
}

// Conflictf refuses a step as RejectConflict.
func Conflictf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), RejectConflict, nil)
}

// Invalidf refuses a step as RejectInvalid.
func Invalidf(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), RejectInvalid, nil)
}

// Lifecycle is how a service's cases run: the workflows its package registers (the case's first), how
// the API starts one, the steps partners send, and the service's own rules on the order.
type Lifecycle struct {
	// Workflows are registered by the worker under these names; the first runs the case.
	Workflows []Registration
	// Input turns the order into the case workflow's start argument.
	Input func(CaseInput) any
	// Steps lists the steps partner engineers send.
	Steps []string
	// Updates lists every step the case workflow takes, each its own Workflow Update: the partners'
	// Steps and those the marketplace relays from the customer.
	Updates []string
	// Specs, when set, are the specs an order may name (SOS specs, Butler editions).
	Specs []string
	// MaxQuantity, when set, bounds the order's quantity.
	MaxQuantity int
}

// Registration is a workflow function and the type name histories and the API know it by.
type Registration struct {
	Name     string
	Workflow any
}

// Workflow is the workflow function that runs the case.
func (l Lifecycle) Workflow() any { return l.Workflows[0].Workflow }

// WorkflowType is the registered type name of the case's workflow: what a client starts (a client given
// the function would start it by the function's own name, which the worker does not register).
func (l Lifecycle) WorkflowType() string { return l.Workflows[0].Name }

// Validate checks an order for this lifecycle: ValidateCaseInput and the service's own rules.
func (l Lifecycle) Validate(in CaseInput) error {
	if err := ValidateCaseInput(in); err != nil {
		return err
	}
	if len(l.Specs) > 0 && !slices.Contains(l.Specs, in.Spec) {
		return fmt.Errorf("spec: %q is not a %s spec; one of %s", in.Spec, in.Service, strings.Join(l.Specs, ", "))
	}
	if l.MaxQuantity > 0 && in.Quantity > l.MaxQuantity {
		return fmt.Errorf("quantity: at most %d for %s", l.MaxQuantity, in.Service)
	}
	return nil
}
