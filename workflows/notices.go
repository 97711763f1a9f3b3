package workflows

import "github.com/steward-oss/steward/activities"

// Notice names a message to the case's customer, in Chinese, sent to their DingTalk group and e-mail
// (the customer channel the marketplace set). Each is a block of activities/templates/customer.md.tmpl,
// rendered when the case records the timeline line that sends it, with the order number and never an
// engineer's personal data; the customer dispatcher delivers it once to each channel and the timeline
// records each delivery (EventCustomerNotified).
type Notice string

// Customer notices, and the arguments each template reads (besides the order and service every one has).
const (
	// NoticePartnerAssigned: a partner company holds the case (partner: the company's name).
	NoticePartnerAssigned Notice = "partner_assigned"
	// NoticeContacted: the engineer made first contact (met: "yes" when the response clock was met, due).
	NoticeContacted Notice = "contacted"
	// NoticeAssetsReminder: the asset list is still missing on day 3 or 4 of its window (day, due).
	NoticeAssetsReminder Notice = "assets_reminder"
	// NoticeAssetsWindowClosed: the asset list window closed without a list; a new purchase is needed (due).
	NoticeAssetsWindowClosed Notice = "assets_window_closed"
	// NoticeIncidentConfirmed: the engineer confirmed the incident (class, type).
	NoticeIncidentConfirmed Notice = "incident_confirmed"
	// NoticeOutOfScope: not a security incident; the customer is pointed to an ordinary ticket.
	NoticeOutOfScope Notice = "out_of_scope"
	// NoticeReportReady: a report waits for the customer (report: its name, version).
	NoticeReportReady Notice = "report_ready"
	// NoticeReportReminder: the report still waits for the customer's verdict (report, version, days since
	// it was submitted, due: when it counts as confirmed).
	NoticeReportReminder Notice = "report_reminder"
	// NoticeReportDeemedAccepted: no verdict within the window; the report counts as confirmed (report,
	// version, due: the window's end).
	NoticeReportDeemedAccepted Notice = "report_deemed_accepted"
	// NoticeRefundOwed: a missed clause owes the customer a refund (amount, clause).
	NoticeRefundOwed Notice = "refund_owed"
	// NoticeCaseClosed: the case ended with its work done (follow_up, until when given).
	NoticeCaseClosed Notice = "case_closed"
	// NoticeOnboarding: the subscription's service channel was opened (edition).
	NoticeOnboarding Notice = "onboarding"
	// NoticeMonthlyReport: a subscription's service report was delivered (number, period).
	NoticeMonthlyReport Notice = "monthly_report"
	// NoticeTermReminder: the term ends soon (days, end).
	NoticeTermReminder Notice = "term_reminder"
	// NoticeTermReport: a subscription's term report was delivered (period: the term's dates).
	NoticeTermReport Notice = "term_report"
	// NoticeAssessmentRecorded: a formal 等保 assessment was recorded (result: passed or not, attempt).
	NoticeAssessmentRecorded Notice = "assessment_recorded"
)

// Notices lists every customer notice; each has its template.
var Notices = []Notice{NoticePartnerAssigned, NoticeContacted, NoticeAssetsReminder, NoticeAssetsWindowClosed,
	NoticeIncidentConfirmed, NoticeOutOfScope, NoticeReportReady, NoticeReportReminder, NoticeReportDeemedAccepted,
	NoticeRefundOwed, NoticeCaseClosed,
	NoticeOnboarding, NoticeMonthlyReport, NoticeTermReminder, NoticeTermReport, NoticeAssessmentRecorded}

// Tell makes ev send the case's customer notice n, with its arguments as name, value pairs.
func Tell(ev activities.Event, n Notice, args ...string) activities.Event {
	note := &activities.CustomerNotice{Kind: string(n)}
	if len(args) > 0 {
		note.Args = make(map[string]string, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			note.Args[args[i]] = args[i+1]
		}
	}
	ev.Customer = note
	return ev
}
