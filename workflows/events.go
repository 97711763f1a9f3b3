package workflows

import (
	"slices"
	"strings"
)

// Event names a line of a case's timeline. The constants below are the public catalogue of case events:
// the timeline, the API and (later) event webhooks speak in these words, and every lifecycle records only
// these. A name says what happened as the customer or partner would put it.
type Event string

// The case as a whole.
const (
	// EventCaseOpened: the order was paid and the case started.
	EventCaseOpened Event = "case_opened"
	// EventCaseClosed: the case ended with its work done.
	EventCaseClosed Event = "case_closed"
	// EventCaseExpired: the case ended because the customer's window or the term ran out.
	EventCaseExpired Event = "case_expired"
	// EventCaseCancelled: the customer cancelled the case (and what it refunds is on the line).
	EventCaseCancelled Event = "case_cancelled"
	// EventOutOfScope: the problem is not a security incident; the case closes and the customer is pointed
	// to an ordinary ticket.
	EventOutOfScope Event = "out_of_scope"
	// EventCancelRefused: a cancellation requested in the Temporal Web UI was refused under the service's
	// rule (the line says why); the case goes on.
	EventCancelRefused Event = "cancellation_refused"
)

// Partner assignment. These name other partners, their load and answers, so the API shows them to
// managers only (AssignmentEvents).
const (
	// EventPartnerOffered: the case was offered to a partner company, to accept in time.
	EventPartnerOffered Event = "partner_offered"
	// EventOfferTimedOut: the offered partner did not accept in time; the next is chosen.
	EventOfferTimedOut Event = "offer_timed_out"
	// EventPartnerDeclined: the offered partner declined; the next is chosen.
	EventPartnerDeclined Event = "partner_declined"
	// EventNoPartnerAvailable: no partner with the skill and free capacity is left; assignment retries.
	EventNoPartnerAvailable Event = "no_partner_available"
	// EventPartnerWithdrawn: the partner holding the case, or offered it, was withdrawn (its company
	// disabled); the case is offered again.
	EventPartnerWithdrawn Event = "partner_withdrawn"
)

// DeliveryEvents are the lines the customer dispatcher writes when a message reached the customer; they
// are the record of a delivery, not a change of the case, and are never sent as webhooks.
var DeliveryEvents = []Event{EventCustomerNotified}

// AssignmentEvents lists the partner-assignment events, which only managers see.
var AssignmentEvents = []Event{EventPartnerOffered, EventOfferTimedOut, EventPartnerDeclined, EventNoPartnerAvailable, EventPartnerWithdrawn}

// Events every lifecycle shares.
const (
	// EventPartnerAccepted: the offered partner accepted and now holds the case.
	EventPartnerAccepted Event = "partner_accepted"
	// EventCustomerContacted: the partner's engineer made first contact with the customer (a response clock met or late).
	EventCustomerContacted Event = "customer_contacted"
	// EventSLAAtRisk: a clause's clock passed a warning threshold (50%, 80%).
	EventSLAAtRisk Event = "sla_at_risk"
	// EventSLABreached: a clause was missed; the line says what refund it adds.
	EventSLABreached Event = "sla_breached"
	// EventSLAReplanned: a clock's deadline had been computed without a year's holiday data (weekends only);
	// the year's schedule was loaded and the clock re-planned from its start, once (the line gives the new
	// and the old due time). A clock already breached keeps its breach; the line says when it would be due.
	EventSLAReplanned Event = "sla_replanned"
	// EventReportSubmitted: the partner submitted a report (a new version after a dispute).
	EventReportSubmitted Event = "report_submitted"
	// EventTermReminder: the term ends soon and nothing extends it yet (30 and 7 days before).
	EventTermReminder Event = "term_reminder"
	// EventTermEnded: the term of a subscription, hosting year or 等保 service ended.
	EventTermEnded Event = "term_ended"
	// EventPlanAgreed: the service or protection plan was agreed (a Butler plan, an escort plan).
	EventPlanAgreed Event = "plan_agreed"
	// EventPlanRevised: the plan was revised: an escort's covered days rescheduled, extended or split, never
	// beyond the days bought, a day that has begun staying as it was.
	EventPlanRevised Event = "plan_revised"
	// EventDocumentDelivered: a deliverable document (proposal, service or assessment report) was delivered.
	EventDocumentDelivered Event = "document_delivered"
	// EventCustomerNotified: a message reached the customer's DingTalk group or e-mail (the line says which
	// and what). Written by the customer dispatcher when the channel took it; never sent as a webhook.
	EventCustomerNotified Event = "customer_notified"
)

// Subscription and hosting requests.
const (
	// EventRequestReceived: the customer raised a request inside the subscription or hosting term.
	EventRequestReceived Event = "request_received"
	// EventRequestOpened: a request's own clock started (a Butler request, or one a daily inspection opened).
	EventRequestOpened Event = "request_opened"
	// EventRequestCompleted: the partner reported a hosting request done.
	EventRequestCompleted Event = "request_completed"
	// EventRequestCancelled: a request still open at the end of the term was cancelled.
	EventRequestCancelled Event = "request_cancelled"
	// EventRequestFailed: a request stopped unexpectedly; operations look at it.
	EventRequestFailed Event = "request_failed"
)

// Incident response (SOS).
const (
	// EventAssetsReminded: the asset list was still missing after 3 (then 4) of its 5 days; the customer was reminded.
	EventAssetsReminded Event = "assets_reminded"
	// EventAssetsSubmitted: the customer submitted the asset list; the handling clock starts.
	EventAssetsSubmitted Event = "assets_submitted"
	// EventIncidentConfirmed: the engineer confirmed and classified the incident.
	EventIncidentConfirmed Event = "incident_confirmed"
	// EventContainmentSkipped: no attack is ongoing, so containment is not needed.
	EventContainmentSkipped Event = "containment_skipped"
	// EventContained: the attack was contained (network cut, service stopped, host shut down).
	EventContained Event = "contained"
	// EventEradicated: malware, webshells and backdoors were removed (or could not be).
	EventEradicated Event = "eradicated"
	// EventCauseAnalyzed: the root-cause analysis is done (a cause, or undeterminable).
	EventCauseAnalyzed Event = "cause_analyzed"
	// EventReportConfirmed: the customer accepted the report.
	EventReportConfirmed Event = "report_confirmed"
	// EventReportDisputed: the customer disputed the report; it goes back to the partner.
	EventReportDisputed Event = "report_disputed"
	// EventReportReminded: the report still waited for the customer's verdict 3 days after it was submitted;
	// the customer was reminded.
	EventReportReminded Event = "report_reminded"
	// EventReportDeemedAccepted: the customer neither confirmed nor disputed the report within its verdict
	// window (7 natural days); it counts as confirmed, and the partner may close the case.
	EventReportDeemedAccepted Event = "report_deemed_accepted"
)

// Compliance rectification (等保整改).
const (
	// EventServiceStarted: the service formally started; from now on it cannot be refunded.
	EventServiceStarted Event = "service_started"
	// EventWorkItemUpdated: a rectification work item changed owner or status.
	EventWorkItemUpdated Event = "work_item_updated"
	// EventAssessmentRecorded: a formal assessment attempt and its result were recorded.
	EventAssessmentRecorded Event = "assessment_recorded"
)

// Security Butler (安全管家) and its requests.
const (
	// EventReportOverdue: a monthly report is still missing 3 days after it fell due.
	EventReportOverdue Event = "report_overdue"
	// EventReportEmailed: a professional edition's report was e-mailed to the customer's recipients.
	EventReportEmailed Event = "report_emailed"
	// EventReportEmailFailed: a professional edition's report could not be e-mailed; operations are alerted.
	EventReportEmailFailed Event = "report_email_failed"
	// EventInspected: a daily inspection was recorded.
	EventInspected Event = "inspected"
	// EventInspectionMissed: a day's inspection was not recorded by 10:00 China time on the next working
	// day; operations and the partner are alerted (no refund: the contract names none).
	EventInspectionMissed Event = "inspection_missed"
	// EventTermReportMissed: the term report was not submitted within 5 working days of the term's end;
	// operations and the partner are alerted and the case closes without it.
	EventTermReportMissed Event = "term_report_missed"
	// EventServersBound: servers were bound to the professional edition (binding cannot be undone).
	EventServersBound Event = "servers_bound"
	// EventRecipientsSet: the professional edition's report recipients were set.
	EventRecipientsSet Event = "recipients_set"
	// EventUrgencyChanged: the customer changed an incident's urgency; its clock was re-targeted.
	EventUrgencyChanged Event = "urgency_changed"
	// EventResponded: the partner responded to a request (its response clock met or late).
	EventResponded Event = "responded"
	// EventClassified: an incident was classified.
	EventClassified Event = "classified"
	// EventEliminated: an incident's cause was eliminated.
	EventEliminated Event = "eliminated"
	// EventRestored: business was restored after an incident.
	EventRestored Event = "restored"
	// EventHardeningAdvised: hardening guidance was given after an incident.
	EventHardeningAdvised Event = "hardening_advised"
	// EventReassessed: the system was assessed again after an incident.
	EventReassessed Event = "reassessed"
	// EventFollowedUp: the incident's follow-up is done; the request is resolved.
	EventFollowedUp Event = "followed_up"
	// EventVulnIdentified: a vulnerability was identified.
	EventVulnIdentified Event = "vulnerability_identified"
	// EventImpactAssessed: a vulnerability's impact scope was assessed.
	EventImpactAssessed Event = "impact_assessed"
	// EventVulnVerified: a vulnerability was verified to exist, with its severity.
	EventVulnVerified Event = "vulnerability_verified"
	// EventVulnNotPresent: verification found the vulnerability does not exist; the request closes.
	EventVulnNotPresent Event = "vulnerability_not_present"
	// EventFixPlanned: a fix plan was made.
	EventFixPlanned Event = "fix_planned"
	// EventRetestPassed: the retest found the vulnerability fixed; the request closes.
	EventRetestPassed Event = "retest_passed"
	// EventRetestFailed: the retest found it not fixed; back to the fix plan.
	EventRetestFailed Event = "retest_failed"
	// EventAnswered: an architecture consultation was answered.
	EventAnswered Event = "answered"
)

// Hosting (服务器安全托管).
const (
	// EventRenewed: the customer renewed for a further year.
	EventRenewed Event = "renewed"
	// EventTermRenewed: a renewed year began; quotas are reset.
	EventTermRenewed Event = "term_renewed"
)

// Event escort (安全护航).
const (
	// EventEscortStarted: the first covered day began.
	EventEscortStarted Event = "escort_started"
	// EventCheckedIn: the on-duty engineer checked in for a covered day.
	EventCheckedIn Event = "checked_in"
	// EventCheckinMissed: no check-in by 10:00 of a covered day.
	EventCheckinMissed Event = "checkin_missed"
	// EventDayMissed: a covered day ended without a check-in.
	EventDayMissed Event = "day_missed"
	// EventPlanOverdue: the protection plan was still missing 2 working days after the partner accepted;
	// operations and the partner were alerted.
	EventPlanOverdue Event = "plan_overdue"
)

// Per-engagement services (consulting, training, assessment, code audit, onboarding).
const (
	// EventScheduleSet: the engagement's schedule was agreed (or changed).
	EventScheduleSet Event = "schedule_set"
	// EventWorkDelivered: a round of the engagement's work was delivered.
	EventWorkDelivered Event = "work_delivered"
	// EventDeliveryAccepted: the customer accepted the deliverable.
	EventDeliveryAccepted Event = "delivery_accepted"
	// EventDeliveryRejected: the customer rejected the deliverable; it goes back to the partner.
	EventDeliveryRejected Event = "delivery_rejected"
	// EventDeliveryDeemedAccepted: no verdict on the deliverable within its verdict window (7 natural days);
	// it counts as accepted.
	EventDeliveryDeemedAccepted Event = "delivery_deemed_accepted"
	// EventScheduleOverdue: the engagement's schedule was still missing 5 working days after the partner
	// accepted; operations and the partner were alerted.
	EventScheduleOverdue Event = "schedule_overdue"
)

// Events lists the whole catalogue, in the order above.
var Events = []Event{
	EventCaseOpened, EventCaseClosed, EventCaseExpired, EventCaseCancelled, EventOutOfScope, EventCancelRefused,
	EventPartnerOffered, EventOfferTimedOut, EventPartnerDeclined, EventNoPartnerAvailable, EventPartnerWithdrawn,
	EventPartnerAccepted, EventCustomerContacted, EventSLAAtRisk, EventSLABreached, EventSLAReplanned, EventReportSubmitted,
	EventTermReminder, EventTermEnded, EventPlanAgreed, EventPlanRevised, EventDocumentDelivered, EventCustomerNotified,
	EventRequestReceived, EventRequestOpened, EventRequestCompleted, EventRequestCancelled, EventRequestFailed,
	EventAssetsReminded, EventAssetsSubmitted, EventIncidentConfirmed, EventContainmentSkipped, EventContained, EventEradicated,
	EventCauseAnalyzed, EventReportConfirmed, EventReportDisputed, EventReportReminded, EventReportDeemedAccepted,
	EventServiceStarted, EventWorkItemUpdated, EventAssessmentRecorded,
	EventReportOverdue, EventReportEmailed, EventReportEmailFailed, EventInspected, EventInspectionMissed, EventTermReportMissed, EventServersBound, EventRecipientsSet, EventUrgencyChanged,
	EventResponded, EventClassified, EventEliminated, EventRestored, EventHardeningAdvised, EventReassessed,
	EventFollowedUp, EventVulnIdentified, EventImpactAssessed, EventVulnVerified, EventVulnNotPresent,
	EventFixPlanned, EventRetestPassed, EventRetestFailed, EventAnswered,
	EventRenewed, EventTermRenewed,
	EventEscortStarted, EventCheckedIn, EventCheckinMissed, EventDayMissed, EventPlanOverdue,
	EventScheduleSet, EventWorkDelivered, EventDeliveryAccepted, EventDeliveryRejected, EventDeliveryDeemedAccepted,
	EventScheduleOverdue,
}

// Event webhooks carry the catalogue's public events under a dotted type: the subject, a dot, what
// happened ("sla_breached" → "sla.breached", "case_opened" → "case.opened"); a request's steps are
// "request." events ("answered" → "request.answered"), and any other event is the case's ("contained"
// → "case.contained"). The partner-assignment events (AssignmentEvents) name other partners and are
// never sent, nor is EventCustomerNotified (the dispatcher's record of a delivery). Refund states have their own types, written by the refund's record and the API.
const (
	// WebhookRefundOwed: a breach (or a cancellation) made a refund owed to the customer.
	WebhookRefundOwed = "refund.owed"
	// WebhookRefundPaid: the marketplace reported the refund paid.
	WebhookRefundPaid = "refund.paid"
	// WebhookRefundWaived: a manager waived the refund, with a reason.
	WebhookRefundWaived = "refund.waived"
	// WebhookTest is the event `steward webhooks test` sends.
	WebhookTest = "webhook.test"
	// WebhookQuotaRefused: a customer's request was refused because its quota for the term is used up
	// (the API answered 409); no timeline line, since the case did not change.
	WebhookQuotaRefused = "request.quota_refused"
)

// webhookSubjects are the first words of event names that name their subject.
var webhookSubjects = []string{"case", "partner", "customer", "sla", "report", "term", "plan", "document", "request", "assets",
	"incident", "containment", "cause", "service", "work", "assessment", "servers", "recipients", "escort", "checkin", "day",
	"schedule", "delivery", "inspection"}

// requestEvents are recorded by a Security Butler request's steps.
var requestEvents = []Event{EventUrgencyChanged, EventResponded, EventClassified, EventEliminated, EventRestored,
	EventHardeningAdvised, EventReassessed, EventFollowedUp, EventVulnIdentified, EventImpactAssessed, EventVulnVerified,
	EventVulnNotPresent, EventFixPlanned, EventRetestPassed, EventRetestFailed, EventAnswered}

// WebhookType is the webhook type of catalogue event e, and false for an event never sent (partner
// assignment) or not in the catalogue.
func WebhookType(e Event) (string, bool) {
	if !slices.Contains(Events, e) || slices.Contains(AssignmentEvents, e) || slices.Contains(DeliveryEvents, e) {
		return "", false
	}
	if slices.Contains(requestEvents, e) {
		return "request." + string(e), true
	}
	if subject, rest, ok := strings.Cut(string(e), "_"); ok && slices.Contains(webhookSubjects, subject) {
		return subject + "." + rest, true
	}
	return "case." + string(e), true
}

// WebhookTypes lists every type a subscription may ask for: the catalogue's public events, the refund
// states and the test event.
func WebhookTypes() []string {
	var out []string
	for _, e := range Events {
		if t, ok := WebhookType(e); ok {
			out = append(out, t)
		}
	}
	return append(out, WebhookRefundOwed, WebhookRefundPaid, WebhookRefundWaived, WebhookQuotaRefused, WebhookTest)
}
