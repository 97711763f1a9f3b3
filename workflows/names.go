package workflows

import (
	"fmt"

	"github.com/steward-oss/steward/sla"
)

// The vocabulary every lifecycle shares: statuses, actors, and the stages and steps that more than one
// lifecycle has. A lifecycle package owns the names only it uses.

// Case statuses.
const (
	// StatusOpen: the case runs.
	StatusOpen = "open"
	// StatusClosed: the case ended, in one of the end stages.
	StatusClosed = "closed"
)

// SLA statuses, as the SlaStatus search attribute and the case view carry them (sla's clock statuses).
const (
	SLAOnTrack  = sla.StatusOnTrack
	SLAAtRisk   = sla.StatusAtRisk
	SLABreached = sla.StatusBreached
	SLAMet      = sla.StatusMet
	SLAPaused   = sla.StatusPaused
	SLAStopped  = sla.StatusStopped
)

// SLAStatuses lists the statuses a clause, the case view and the SlaStatus search attribute take.
var SLAStatuses = []string{SLAOnTrack, SLAAtRisk, SLABreached, SLAMet, SLAPaused, SLAStopped}

// Actor kinds that take steps and appear on the timeline.
const (
	// ActorPartner is an engineer of the partner company holding the case.
	ActorPartner = "partner"
	// ActorMarketplace relays the customer: purchase, asset list, verdicts, requests, cancellation.
	ActorMarketplace = "marketplace"
	// ActorManager is the provider's service desk.
	ActorManager = "manager"
	// ActorSystem is steward itself: clocks, assignment, terms.
	ActorSystem = "system"
)

// The keys of an SLA clock's notifications and breach line, after the case's (or request's) workflow ID
// and "/": KeyWarn then the clause and the threshold ("warn/response@50"), KeyBreach then the clause.
const (
	KeyWarn   = "warn/"
	KeyBreach = "breach/"
)

// WarnKey is the key of a clause's warning at threshold th (a fraction of its target).
func WarnKey(clause string, th float64) string {
	return fmt.Sprintf("%s%s@%.0f", KeyWarn, clause, th*100)
}

// BreachKey is the key of a clause's breach.
func BreachKey(clause string) string { return KeyBreach + clause }

// Stages more than one lifecycle has.
const (
	// StageAssignment: the case is being offered to partners.
	StageAssignment = "assignment"
	// StagePlanning: a partner holds the case and the plan is due.
	StagePlanning = "planning"
	// StageReport: the partner writes the report.
	StageReport = "report"
	// StageClosed: the case ended with its work done.
	StageClosed = "closed"
	// StageExpired: the case ended because the customer's window or the term ran out.
	StageExpired = "expired"
	// StageCancelled: the customer cancelled the case.
	StageCancelled = "cancelled"
)

// Steps more than one lifecycle takes. Each lifecycle lists the steps its partners send.
const (
	// StepAccept is a partner accepting the case offered to it.
	StepAccept = "accept"
	// StepDecline is a partner declining the case offered to it (DeclineInput).
	StepDecline = "decline"
	// StepContact is the engineer's first contact with the customer.
	StepContact = "contact"
	// StepContain lists the containment actions taken.
	StepContain = "contain"
	// StepPlan submits the agreed plan.
	StepPlan = "plan"
	// StepReport submits a report.
	StepReport = "report"
	// StepDeliverable delivers a document.
	StepDeliverable = "deliverable"
	// StepClose closes the case with the follow-up of results.
	StepClose = "close"
	// StepRequest is the customer's request inside a subscription or hosting term (marketplace).
	StepRequest = "request"
	// StepCancel is the customer cancelling the order (marketplace, CancelInput).
	StepCancel = "cancel"
)

// QueryCaseView names the query every case workflow answers with its CaseView. Steps arrive as Workflow
// Updates named for the step (StepAccept, sos.StepConfirm, ...), each carrying a StepInput.
const QueryCaseView = "case_view"

// UpdateReoffer names the Workflow Update every case takes to withdraw the partner holding it, or offered
// it, and offer it again (Case.Reoffer): a StepInput from a manager or steward (ActorManager, ActorSystem)
// whose PartnerID is the partner withdrawn and whose payload is a ReofferInput. steward partners disable
// sends it to each open case of the partner it disables.
const UpdateReoffer = "reoffer"

// WebUIActor is the actor name of a cancellation requested in the Temporal Web UI, on the timeline.
const WebUIActor = "Temporal Web UI"

// Values of the Assignment search attribute.
const (
	AssignmentNone     = "none"
	AssignmentOffered  = "offered"
	AssignmentAccepted = "accepted"
)
