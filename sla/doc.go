// Package sla holds steward's deterministic business rules about time and money: business calendars
// with China's statutory holidays, SLA clauses and their clocks, and compensation (refund) rules.
//
// It imports nothing from Temporal and never reads the wall clock: every function takes its instants
// (now, start times) as arguments, so workflow code calls it with workflow.Now(ctx). Maps are used only
// for lookups, never iterated where the order could change a result, and nothing starts goroutines.
//
// # Calendars
//
// A Calendar counts either natural time ("7x24") or business time, e.g. "5x8": Monday–Friday
// 09:00–12:00 and 13:00–18:00 Asia/Shanghai, minus China's statutory holidays, plus its make-up working
// days (调休). Working days, hours, zone and holiday region are configuration (CalendarConfig); another
// calendar is just another entry. Build the set once per worker with NewCalendars(Config) and look one up
// by name with Get. Every worker of a task queue must use the same configuration, or replays diverge.
//
// # Holiday data
//
// Holidays are data: one YAML file per region and year, embedded from sla/holidays/REGION-YEAR.yaml
// (cn-2024.yaml, cn-2025.yaml, cn-2026.yaml). A file looks like this:
//
//	# Source: 国务院办公厅关于2027年部分节假日安排的通知 (the dates below only illustrate the format)
//	region: cn              # the holiday region a calendar names in CalendarConfig.Holidays
//	year: 2027              # the year the notice is for; its data counts as complete for that year
//	off:                    # holidays, inclusive YYYY-MM-DD ranges; may reach a month into the
//	  - {name: 元旦, from: 2027-01-01, to: 2027-01-03}   # neighbouring years (2023-12-30..2024-01-01)
//	  - {name: 春节, from: 2027-02-06, to: 2027-02-14}
//	work: [2027-02-20]      # make-up working days: weekend days that are working days
//
// Unknown keys, malformed dates, reversed, over-long (more than 31 days) or overlapping ranges, a day
// listed twice, a make-up day on a weekday or inside a holiday, and a day listed by two years' files are
// errors, never silently ignored.
//
// Each November the State Council publishes next year's schedule. To add it:
//
//   - with a release: add sla/holidays/cn-YYYY.yaml (the file name must match region and year), extend
//     the table tests with the new year's figures, and run go test ./sla/...;
//   - without a release: put the file anywhere on the hosts and list its path in the configuration key
//     sla.holiday_files (Config.HolidayFiles), or in the environment variable STEWARD_HOLIDAY_FILES
//     (EnvHolidayFiles, comma-separated paths), then restart the workers. A file for a year that is
//     already embedded replaces the embedded one, so a correction needs no release either. All workers
//     must load the same files.
//
// A year without data is never taken as "no holidays": only weekends count as off in it, and
// Calendars.MissingYears reports it, which the service logs at start and shows in /readyz detail. A
// clock whose due instant was placed over such a year lists it (Clock.PlannedWithout) and is placed
// again, once, when the year's data is there (Clock.Replan). Each year's data has a fingerprint
// (Calendar.HolidayVersion, "cn-2027@1a2b3c4d"), logged at start, so workers loading different data show.
//
// # Clauses and clocks
//
// Clauses lists each service's promises as data (Clause): SOS response (20 minutes of 5x8 business time
// from paid_at), handling (HandlingDays natural days from asset submission), effect (an outcome, no
// clock); Security Butler response times in 7x24; butler onboarding contact within 1 working day,
// defined as WorkingDay = 8 business hours of the 5x8 calendar. A Clock is a clause's running deadline,
// a plain serialisable value that workflows carry in their state; it can be paused, resumed, retargeted
// and completed, and names its next warning or due instant for a timer (NextEvent). Status returns
// on_track, at_risk (from the first threshold, default 50%; warnings at 50% and 80%) or breached.
//
// # Compensation
//
// Compensate turns breached clauses and the order amount into a refund: SOS response 50%, handling 50%,
// effect 100%, cumulative and capped at 100%. CancelRefund applies cancellation rules: 等保整改
// ("dengbao") refunds in full before kickoff and refuses after. Amounts are integer cents, rounded half
// up (amount × percent / 100, a remainder of half a cent or more rounds up).
package sla
