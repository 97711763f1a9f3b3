package sla

import (
	"fmt"
	"time"
)

// Security Butler rules SPEC.md leaves open, as steward applies them: when a missing daily inspection is
// alerted, and the term report that ends a yearly subscription.

// DailyInspections reports whether edition owes a daily inspection: SPEC.md's escort ("key business
// daily") and enterprise ("designated business daily") editions, and the professional edition, the
// enterprise one with bound servers and e-mailed reports. The emergency edition's checks are tied to
// its incident.
func DailyInspections(edition string) bool {
	return edition == EditionEscort || edition == EditionEnterprise || edition == EditionProfessional
}

// InspectionAlertHour is when, China time, on the working day after a day whose inspection was not
// recorded, operations and the partner are alerted: 10:00.
const InspectionAlertHour = 10 * time.Hour

// InspectionCheck is when the daily inspection of day (YYYY-MM-DD, China) is checked: InspectionAlertHour
// on the first working day after it in cs's 5x8 calendar, so Friday's, Saturday's and Sunday's are
// checked on Monday, and a holiday's on the first working day after the holiday. It returns that instant
// and that working day (YYYY-MM-DD): the inspections of day up to the day before it are all checked then.
func InspectionCheck(cs *Calendars, day string) (time.Time, string, error) {
	d, err := time.ParseInLocation(time.DateOnly, day, China)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: day %q: want YYYY-MM-DD", ErrInvalid, day)
	}
	cal, err := cs.Get(Calendar5x8)
	if err != nil {
		return time.Time{}, "", err
	}
	next := cal.NextWorkday(d.Add(12 * time.Hour))
	if next.IsZero() {
		return time.Time{}, "", fmt.Errorf("%w: calendar %s: no working day after %s", ErrInvalid, cal.Name(), day)
	}
	workday := next.In(China).Format(time.DateOnly)
	w, _ := time.ParseInLocation(time.DateOnly, workday, China)
	return w.Add(InspectionAlertHour).UTC(), workday, nil
}

// TermReportDeadline is when the term report of a yearly subscription is due: 5 working days (5x8) after
// the term ends. Without it by then operations and the partner are alerted and the case closes. SPEC.md
// promises periodic reports for the whole term but names no term report; this is steward's rule.
var TermReportDeadline = Deadline{Calendar: Calendar5x8, Within: 5 * WorkingDay}

// TermReportOpens is how long before the term ends the partner may submit the term report: its last
// 30 days, from the first term reminder on.
const TermReportOpens = 30 * Day

// OwesTermReport reports whether the partner of edition owes a term report: every yearly edition. The
// emergency edition's 15 days end with its incident's 《应急报告》.
func OwesTermReport(edition string) bool { return edition != EditionEmergency }
