package activities

import "time"

// ReportInput is everything the 《安全事件应急响应报告》 (incident-response report) is rendered from. The
// workflow sends it; it holds no personal data (the customer is named by ID only).
type ReportInput struct {
	// Key makes the write idempotent: the same key renders and stores the same version once.
	Key         string    `json:"key"`
	CaseID      string    `json:"case_id"`
	OrderID     string    `json:"order_id"`
	CustomerID  string    `json:"customer_id"`
	PartnerID   string    `json:"partner_id"`
	PartnerName string    `json:"partner_name,omitempty"`
	Spec        string    `json:"spec"`
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`

	// Symptoms is what the customer saw (from the confirm step's summary).
	Symptoms string `json:"symptoms"`
	// IncidentClass and IncidentType classify the incident (GB/Z 20986-2007), e.g. "malware" / "cryptominer".
	IncidentClass string       `json:"incident_class"`
	IncidentType  string       `json:"incident_type"`
	Hosts         []ReportHost `json:"hosts"`
	// Process is the timeline of what was done, in order.
	Process []ReportStep `json:"process"`
	// Containment actions (empty when no attack was ongoing).
	Containment []string `json:"containment,omitempty"`
	// Cleaned lists what eradication removed or restored; MalwareRemoved says whether malware is gone.
	Cleaned        []string `json:"cleaned"`
	MalwareRemoved bool     `json:"malware_removed"`
	// Cause is the root-cause analysis (analysis specs only); CauseUndetermined when it could not be found.
	Cause             string `json:"cause,omitempty"`
	CauseUndetermined bool   `json:"cause_undetermined,omitempty"`
	// Summary and Recommendations come from the report step.
	Summary         string   `json:"summary"`
	Recommendations []string `json:"recommendations"`
	// SLA is each clause's outcome; Refund the refund owed.
	SLA               []ReportSLA `json:"sla"`
	RefundPercent     int         `json:"refund_percent"`
	RefundAmountCents int64       `json:"refund_amount_cents"`
	Currency          string      `json:"currency"`
}

// ReportHost is one host in the report.
type ReportHost struct {
	InstanceID string `json:"instance_id"`
	IP         string `json:"ip"`
	OS         string `json:"os"`
}

// ReportStep is one line of the process section.
type ReportStep struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	Detail string    `json:"detail"`
}

// ReportSLA is one clause's outcome in the report.
type ReportSLA struct {
	Clause        string     `json:"clause"`
	DueAt         *time.Time `json:"due_at,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	Breached      bool       `json:"breached"`
	RefundPercent int        `json:"refund_percent"`
}

// ReportRef names a stored report.
type ReportRef struct {
	CaseID  string `json:"case_id"`
	Version int    `json:"version"`
}
