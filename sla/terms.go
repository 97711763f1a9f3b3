package sla

import (
	"fmt"
	"time"
)

// China is the zone every date of the contract is read in: Asia/Shanghai. China has kept no daylight
// saving since 1991, so a fixed +08:00 is exact for every date steward handles and needs no zone database
// in workflow code.
var China = time.FixedZone(DefaultZone, 8*60*60)

// Service names, as the marketplace sends them in a purchase (SPEC.md "Service catalogue").
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

// SOS clauses.
const (
	// ClauseAssets is the customer's 5-natural-day window for the asset list.
	ClauseAssets = "assets"
	// ClauseResponse is the engineer's first contact: 20 minutes of 5x8 business time from payment.
	ClauseResponse = "response"
	// ClauseHandling ends at the report: HandlingDays natural days from the asset list.
	ClauseHandling = "handling"
	// ClauseEffect is the outcome that trojans and viruses are cleaned.
	ClauseEffect = "effect"
)

// Security Butler clauses.
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

// ClauseTerm names a case's term (a year of hosting, a 等保 year) in its case view; it is a date, not a
// promise with a clock.
const ClauseTerm = "term"

// ClauseCancellation names the refund of a cancelled order in the refunds table.
const ClauseCancellation = "cancellation"

// SOS specs (服务规格), the spec of an SOS purchase.
const (
	// SpecHandling is 事件处理: remote handling, no root-cause analysis.
	SpecHandling = "handling"
	// SpecAnalysisRemote is 事件分析(远程): handling and a remote root-cause analysis.
	SpecAnalysisRemote = "analysis_remote"
	// SpecAnalysisOnsite is 事件分析(现场): handling and an on-site analysis, by a partner able to go on site.
	SpecAnalysisOnsite = "analysis_onsite"
)

// Incident classes (GB/Z 20986-2007) that an SOS confirmation or a Butler incident's classification names.
const (
	ClassMalware                = "malware"                 // 有害程序事件
	ClassNetworkAttack          = "network_attack"          // 网络攻击事件
	ClassInformationDestruction = "information_destruction" // 信息破坏事件
	ClassContentSecurity        = "content_security"        // 信息内容安全事件
)

// IncidentClasses lists the incident classes.
var IncidentClasses = []string{ClassMalware, ClassNetworkAttack, ClassInformationDestruction, ClassContentSecurity}

// AssetWindow is how long after payment an SOS customer may submit the asset list: 5 natural days.
const AssetWindow = 5 * Day

// AssetReminders are when, after payment, a customer without an asset list is reminded of it: after 3
// and after 4 of the window's 5 natural days (2 days and 1 day before it closes).
var AssetReminders = []time.Duration{3 * Day, 4 * Day}

// AssetReminderTooLate is how long after its moment an asset reminder is still worth sending (a case
// started by a late callback skips the reminders already past).
const AssetReminderTooLate = time.Hour

// Security Butler editions (安全管家), the spec of a butler purchase.
const (
	EditionEmergency    = "emergency"    // 应急版: one incident, valid 15 days
	EditionEscort       = "escort"       // 护航版
	EditionEnterprise   = "enterprise"   // 企业版
	EditionProfessional = "professional" // 专业版: bound servers, reports e-mailed
)

// EmergencyValidity is how long the emergency edition is valid: 15 natural days from payment.
const EmergencyValidity = 15 * Day

// Kinds of request inside a Security Butler subscription.
const (
	RequestIncident      = "incident"
	RequestVulnerability = "vulnerability"
	RequestConsulting    = "consulting"
)

// Incident urgencies and vulnerability severities.
const (
	UrgencyUrgent  = "urgent"
	UrgencyNormal  = "normal"
	SeverityHigh   = "high"
	SeverityMedium = "medium"
	SeverityLow    = "low"
)

// ButlerTermEnd is when a Security Butler subscription ends: 15 days after payment for the emergency
// edition, one year by the calendar date in China for the others.
func ButlerTermEnd(edition string, paidAt time.Time) time.Time {
	if edition == EditionEmergency {
		return paidAt.In(China).AddDate(0, 0, int(EmergencyValidity/Day)).UTC()
	}
	return paidAt.In(China).AddDate(1, 0, 0).UTC()
}

// ReportOverdueAfter is how long after its due date a missing monthly Butler report alerts operations.
const ReportOverdueAfter = 3 * Day

// ReportDue is when the n-th monthly Butler report (from 1) falls due: n calendar months after the plan
// was agreed, in China.
func ReportDue(planAt time.Time, n int) time.Time { return planAt.In(China).AddDate(0, n, 0).UTC() }

// ResponseClause is the clause of a Butler request's response clock (SPEC.md's edition table): an
// incident is urgent in the emergency edition or when the customer says so, a vulnerability's clause
// follows its severity, and a consultation has the architecture-consulting clause. An unknown kind or
// severity is an error.
func ResponseClause(kind, edition, urgency, severity string) (string, error) {
	switch kind {
	case RequestIncident:
		if edition == EditionEmergency || urgency == UrgencyUrgent {
			return ClauseIncidentUrgent, nil
		}
		return ClauseIncidentNormal, nil
	case RequestVulnerability:
		switch severity {
		case SeverityHigh:
			return ClauseVulnHigh, nil
		case SeverityMedium:
			return ClauseVulnMedium, nil
		case SeverityLow:
			return ClauseVulnLow, nil
		}
		return "", fmt.Errorf("%w: vulnerability severity %q", ErrUnknown, severity)
	case RequestConsulting:
		return ClauseArchitectureConsulting, nil
	}
	return "", fmt.Errorf("%w: request kind %q", ErrUnknown, kind)
}

// DengbaoTermEnd is when a 等保整改 term ends without a pass: one year after purchase, by the calendar
// date in China (bought 2018-05-01 → 2019-05-01). A pass of the formal assessment ends it earlier.
func DengbaoTermEnd(paidAt time.Time) time.Time { return paidAt.In(China).AddDate(1, 0, 0).UTC() }

// TermReminderDays are the days before a yearly term ends (等保, hosting) on which the customer is
// reminded, while the term can still lapse.
var TermReminderDays = []int{30, 7}

// ReminderTooLate is how long after its day a reminder is still worth sending (a run resumed later skips it).
const ReminderTooLate = Day

// HostingTermEnd is when term n (from 1) of a hosting case bought at paidAt ends: n years after purchase,
// by the calendar date in China.
func HostingTermEnd(paidAt time.Time, n int) time.Time {
	return paidAt.In(China).AddDate(n, 0, 0).UTC()
}

// Hosting request kinds (SPEC.md "Server security hosting").
const (
	HostingSecurityCheck = "security_check" // 安全检查: scan the server and up to 3 websites, manual check, fix guidance
	HostingHardening     = "hardening"      // 安全加固: OS and nginx/apache/mysql/sshd/redis
	HostingPatching      = "patching"       // 漏洞修复 and emergency 0day fixes
	HostingIncident      = "incident"       // 应急响应: miners, viruses, worms, trojans, webshells, intrusion analysis
)

// Unlimited is the quota of a request kind made as needed.
const Unlimited = -1

// HostingQuota is how many requests of kind one hosted ECS may make in one term (a year): 1 security
// check, 1 hardening, patching as needed (Unlimited), at most 2 incidents. An unknown kind is an error.
func HostingQuota(kind string) (int, error) {
	switch kind {
	case HostingSecurityCheck, HostingHardening:
		return 1, nil
	case HostingPatching:
		return Unlimited, nil
	case HostingIncident:
		return 2, nil
	}
	return 0, fmt.Errorf("%w: hosting request kind %q", ErrUnknown, kind)
}

// CheckinBy is how long into a covered escort day (China time) the on-duty check-in may arrive before it
// is missing: 10:00.
const CheckinBy = 10 * time.Hour

// MaxEscortDays bounds the covered days of one escort order.
const MaxEscortDays = 366

// EscortDayStart is 00:00 China time of day (YYYY-MM-DD), the start of a covered escort day.
func EscortDayStart(day string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, day, China)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: day %q: want YYYY-MM-DD", ErrInvalid, day)
	}
	return t.UTC(), nil
}

// VerdictWindow is how long a customer has to accept or reject an engagement's deliverable; without a
// verdict in that time it is deemed accepted. SPEC.md is silent on it; steward keeps it at 7 natural days.
const VerdictWindow = 7 * Day

// ChinaDate is the date of t in China, YYYY-MM-DD.
func ChinaDate(t time.Time) string { return t.In(China).Format(time.DateOnly) }
