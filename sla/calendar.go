package sla

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai must load on hosts and containers without a zoneinfo database.

	"github.com/rickar/cal/v2"
)

// Errors that callers can tell apart with errors.Is; the message says what was wrong.
var (
	// ErrInvalid marks bad input: a negative duration, hosts ≤ 0, a malformed calendar or holiday file.
	ErrInvalid = errors.New("sla: invalid")
	// ErrUnknown marks an unknown calendar, clause, service or holiday region.
	ErrUnknown = errors.New("sla: unknown")
	// ErrRefused marks a request the rules refuse, such as cancelling 等保 after kickoff.
	ErrRefused = errors.New("sla: refused")
)

// Names of the built-in calendars.
const (
	// Calendar7x24 counts natural time: every instant is working time.
	Calendar7x24 = "7x24"
	// Calendar5x8 counts China's business hours: Monday–Friday 09:00–12:00 and 13:00–18:00
	// Asia/Shanghai, minus statutory holidays, plus make-up working days.
	Calendar5x8 = "5x8"
)

// DefaultZone is the zone of a calendar whose configuration names none.
const DefaultZone = "Asia/Shanghai"

// EnvHolidayFiles is the environment variable, a comma-separated list of paths, that the service reads
// into Config.HolidayFiles (YAML key sla.holiday_files).
const EnvHolidayFiles = "STEWARD_HOLIDAY_FILES"

// maxWalkDays bounds every day-by-day walk: ten years without enough working time is a bad calendar
// or a bad duration, reported as an error rather than a hang.
const maxWalkDays = 3660

// Config is the sla section of the service configuration. The zero value gives the built-in calendars
// with the embedded holiday data.
type Config struct {
	// HolidayFiles are holiday files read at start, in addition to the embedded ones: next year's
	// schedule, published each November, or a correction that replaces an embedded year.
	HolidayFiles []string `yaml:"holiday_files" json:"holiday_files"`
	// Calendars adds calendars or replaces built-in ones of the same name.
	Calendars []CalendarConfig `yaml:"calendars" json:"calendars"`
}

// CalendarConfig describes one calendar as data. A calendar with no days, hours and holidays counts
// natural time (7x24); otherwise all of days and hours are required.
type CalendarConfig struct {
	// Name is what clauses and clocks call the calendar, e.g. "5x8".
	Name string `yaml:"name" json:"name"`
	// Zone is the IANA zone the hours are in; DefaultZone when empty.
	Zone string `yaml:"zone" json:"zone,omitempty"`
	// Days are the usual working weekdays: mon, tue, wed, thu, fri, sat, sun.
	Days []string `yaml:"days" json:"days,omitempty"`
	// Hours are the working periods of a working day, "HH:MM-HH:MM", e.g. "09:00-12:00"; "24:00" ends a day.
	Hours []string `yaml:"hours" json:"hours,omitempty"`
	// Holidays names the holiday region whose days off and make-up days apply, e.g. "cn"; empty for none.
	Holidays string `yaml:"holidays" json:"holidays,omitempty"`
}

// DefaultCalendars returns the configuration of the built-in calendars, 7x24 and 5x8.
func DefaultCalendars() []CalendarConfig {
	return []CalendarConfig{
		{Name: Calendar7x24},
		{
			Name:     Calendar5x8,
			Zone:     DefaultZone,
			Days:     []string{"mon", "tue", "wed", "thu", "fri"},
			Hours:    []string{"09:00-12:00", "13:00-18:00"},
			Holidays: RegionCN,
		},
	}
}

// period is one working period of a day, as wall-clock offsets from midnight.
type period struct{ start, end time.Duration }

// Calendar answers questions about business time. It is immutable and safe for concurrent use; its
// answers depend only on its arguments, so workflow code may call it with workflow.Now.
//
// rickar/cal's BusinessCalendar decides which dates are working days (its WorkdayFunc applies the
// weekdays, the holidays and the make-up days). Its hour arithmetic is not used: it has a single
// start–end period per day, so it cannot express a lunch break, and it reports no error for durations
// it cannot place. The interval arithmetic here skips whole days and periods, never minutes.
type Calendar struct {
	name     string
	loc      *time.Location
	natural  bool
	periods  []period
	weekdays [7]bool
	holidays *Holidays
	biz      *cal.BusinessCalendar
}

// NewCalendar builds a calendar from its configuration. hol must be the data of cfg.Holidays' region,
// or nil when cfg names no holidays.
func NewCalendar(cfg CalendarConfig, hol *Holidays) (*Calendar, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: calendar %q: %s", ErrInvalid, cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.Name == "" {
		return nil, bad("name is empty")
	}
	c := &Calendar{name: cfg.Name}
	if len(cfg.Days) == 0 && len(cfg.Hours) == 0 && cfg.Holidays == "" {
		c.natural = true
		c.loc = time.UTC
		return c, nil
	}
	if len(cfg.Days) == 0 || len(cfg.Hours) == 0 {
		return nil, bad("needs both days and hours (or neither, for natural time)")
	}
	loc, err := loadZone(cfg.Zone)
	if err != nil {
		return nil, bad("%v", err)
	}
	c.loc = loc
	for _, s := range cfg.Days {
		wd, ok := weekdayNames[strings.ToLower(s)]
		if !ok {
			return nil, bad("day %q is not one of mon..sun", s)
		}
		if c.weekdays[wd] {
			return nil, bad("day %q is listed twice", s)
		}
		c.weekdays[wd] = true
	}
	for _, s := range cfg.Hours {
		p, err := parsePeriod(s)
		if err != nil {
			return nil, bad("%v", err)
		}
		c.periods = append(c.periods, p)
	}
	slices.SortFunc(c.periods, func(a, b period) int { return int(a.start - b.start) })
	for i := 1; i < len(c.periods); i++ {
		if c.periods[i].start < c.periods[i-1].end {
			return nil, bad("hours %v overlap", cfg.Hours)
		}
	}
	switch {
	case cfg.Holidays == "" && hol != nil:
		return nil, bad("holiday data given but no holiday region configured")
	case cfg.Holidays != "" && (hol == nil || hol.Region() != cfg.Holidays):
		return nil, bad("needs the holiday data of region %q", cfg.Holidays)
	}
	c.holidays = hol
	c.biz = cal.NewBusinessCalendar()
	c.biz.WorkdayFunc = c.workday
	return c, nil
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if name == DefaultZone { // unreachable with time/tzdata linked in; China has had no DST since 1991
			return time.FixedZone("CST", 8*60*60), nil
		}
		return nil, fmt.Errorf("zone %q: %v", name, err)
	}
	return loc, nil
}

// parsePeriod parses "HH:MM-HH:MM".
func parsePeriod(s string) (period, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return period{}, fmt.Errorf("hours %q are not HH:MM-HH:MM", s)
	}
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	if err1 != nil || err2 != nil {
		return period{}, fmt.Errorf("hours %q are not HH:MM-HH:MM", s)
	}
	if start >= end {
		return period{}, fmt.Errorf("hours %q end before they start", s)
	}
	return period{start, end}, nil
}

func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(hh) != 2 || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad time of day %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// Name returns the calendar's name.
func (c *Calendar) Name() string { return c.name }

// Location returns the zone the calendar's hours are in (UTC for natural time).
func (c *Calendar) Location() *time.Location { return c.loc }

// Natural reports whether the calendar counts natural time (7x24).
func (c *Calendar) Natural() bool { return c.natural }

// MissingYears returns the years in from..to (inclusive) for which the calendar has no holiday data,
// ascending; none for a calendar without holidays.
func (c *Calendar) MissingYears(from, to int) []int {
	if c.holidays == nil {
		return nil
	}
	return c.holidays.MissingYears(from, to)
}

// workday is the BusinessCalendar's WorkdayFunc. date is a civil date (its fields, not its zone, count):
// a listed day follows the holiday data, any other day the usual weekdays.
func (c *Calendar) workday(date time.Time) bool {
	if c.holidays != nil {
		if off, listed := c.holidays.lookup(dayOf(date.Date())); listed {
			return !off
		}
	}
	return c.weekdays[date.Weekday()]
}

// civil returns the calendar date of t in the calendar's zone, as midnight UTC.
func (c *Calendar) civil(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// at returns the instant of wall-clock offset off on civil date date (DST-safe: built from fields).
func (c *Calendar) at(date time.Time, off time.Duration) time.Time {
	y, m, d := date.Date()
	return time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), 0, 0, c.loc)
}

// IsWorking reports whether t is inside working time: a working day's period [start, end).
func (c *Calendar) IsWorking(t time.Time) bool {
	if c.natural {
		return true
	}
	date := c.civil(t)
	if !c.biz.IsWorkday(date) {
		return false
	}
	for _, p := range c.periods {
		if !t.Before(c.at(date, p.start)) && t.Before(c.at(date, p.end)) {
			return true
		}
	}
	return false
}

// NextWorking returns t if it is working time, else the start of the next working period. It returns
// the zero time only if no working time lies within ten years, which a valid configuration rules out.
func (c *Calendar) NextWorking(t time.Time) time.Time {
	if c.natural {
		return t
	}
	date := c.civil(t)
	for range maxWalkDays {
		if c.biz.IsWorkday(date) {
			for _, p := range c.periods {
				if e := c.at(date, p.end); e.After(t) {
					return laterOf(c.at(date, p.start), t).In(t.Location())
				}
			}
		}
		date = date.AddDate(0, 0, 1)
	}
	return time.Time{}
}

// Add returns the earliest instant at which d of the calendar's time has passed since t: t+d for
// natural time; for business time, counting only working periods (20 minutes from Friday 17:50 is
// Monday 09:10, or Saturday 09:10 when that Saturday is a make-up working day). Add(t, 0) is t.
// The result is in t's location. A negative d is an error.
func (c *Calendar) Add(t time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("%w: calendar %s: negative duration %v", ErrInvalid, c.name, d)
	}
	if c.natural || d == 0 {
		return t.Add(d), nil
	}
	due, _, err := c.walk(t, d, false)
	return due, err
}

// Span is a stretch of working time [From, To).
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// spans is Add that also returns the working spans between t and the result.
func (c *Calendar) spans(t time.Time, d time.Duration) (time.Time, []Span, error) {
	if d < 0 {
		return time.Time{}, nil, fmt.Errorf("%w: calendar %s: negative duration %v", ErrInvalid, c.name, d)
	}
	if d == 0 {
		return t, nil, nil
	}
	if c.natural {
		return t.Add(d), []Span{{t, t.Add(d)}}, nil
	}
	return c.walk(t, d, true)
}

// walk consumes d of working time from t, one working period at a time.
func (c *Calendar) walk(t time.Time, d time.Duration, collect bool) (time.Time, []Span, error) {
	var spans []Span
	date := c.civil(t)
	for range maxWalkDays {
		if c.biz.IsWorkday(date) {
			for _, p := range c.periods {
				e := c.at(date, p.end)
				if !e.After(t) {
					continue
				}
				s := laterOf(c.at(date, p.start), t)
				avail := e.Sub(s)
				if d <= avail {
					end := s.Add(d).In(t.Location())
					if collect {
						spans = append(spans, Span{s.In(t.Location()), end})
					}
					return end, spans, nil
				}
				d -= avail
				if collect {
					spans = append(spans, Span{s.In(t.Location()), e.In(t.Location())})
				}
			}
		}
		date = date.AddDate(0, 0, 1)
	}
	return time.Time{}, nil, fmt.Errorf("%w: calendar %s: no room for the duration within %d days of %v", ErrInvalid, c.name, maxWalkDays, t)
}

// Between returns the calendar's time from a to b: b−a for natural time, else the working time inside
// [a, b). It is negative when b is before a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if c.natural {
		return b.Sub(a)
	}
	if b.Before(a) {
		return -c.Between(b, a)
	}
	var sum time.Duration
	last := c.civil(b)
	for date := c.civil(a); !date.After(last); date = date.AddDate(0, 0, 1) {
		if !c.biz.IsWorkday(date) {
			continue
		}
		for _, p := range c.periods {
			s, e := laterOf(c.at(date, p.start), a), earlierOf(c.at(date, p.end), b)
			if e.After(s) {
				sum += e.Sub(s)
			}
		}
	}
	return sum
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Calendars is the set of calendars a worker uses, by name. Every worker of a task queue must be built
// from the same Config, or replays diverge.
type Calendars struct {
	byName map[string]*Calendar
	names  []string
}

// NewCalendars builds the built-in calendars plus those of cfg, loading the holiday data each one names
// from the embedded files and cfg.HolidayFiles.
func NewCalendars(cfg Config) (*Calendars, error) {
	defs := DefaultCalendars()
	seen := make(map[string]bool)
	for _, cc := range cfg.Calendars {
		if seen[cc.Name] {
			return nil, fmt.Errorf("%w: calendar %q is configured twice", ErrInvalid, cc.Name)
		}
		seen[cc.Name] = true
		if i := slices.IndexFunc(defs, func(d CalendarConfig) bool { return d.Name == cc.Name }); i >= 0 {
			defs[i] = cc
		} else {
			defs = append(defs, cc)
		}
	}
	// Parse every file once up front, so a malformed one fails even if no calendar uses its region.
	if _, err := loadHolidayFiles(cfg.HolidayFiles); err != nil {
		return nil, err
	}
	hols := make(map[string]*Holidays)
	cs := &Calendars{byName: make(map[string]*Calendar)}
	for _, cc := range defs {
		var hol *Holidays
		if cc.Holidays != "" {
			if hol = hols[cc.Holidays]; hol == nil {
				h, err := LoadHolidays(cc.Holidays, cfg.HolidayFiles...)
				if err != nil {
					return nil, fmt.Errorf("calendar %q: %w", cc.Name, err)
				}
				hols[cc.Holidays], hol = h, h
			}
		}
		c, err := NewCalendar(cc, hol)
		if err != nil {
			return nil, err
		}
		cs.byName[c.name] = c
		cs.names = append(cs.names, c.name)
	}
	slices.Sort(cs.names)
	return cs, nil
}

// Get returns the calendar called name.
func (cs *Calendars) Get(name string) (*Calendar, error) {
	c, ok := cs.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: calendar %q", ErrUnknown, name)
	}
	return c, nil
}

// Names returns the calendars' names, sorted.
func (cs *Calendars) Names() []string { return slices.Clone(cs.names) }

// MissingYears returns the years in from..to (inclusive) that some calendar has no holiday data for,
// ascending. The service calls it at start (a warning) and in /readyz detail, e.g. for this year and next.
func (cs *Calendars) MissingYears(from, to int) []int {
	var out []int
	for _, n := range cs.names {
		for _, y := range cs.byName[n].MissingYears(from, to) {
			if _, found := slices.BinarySearch(out, y); !found {
				out = append(out, y)
				slices.Sort(out)
			}
		}
	}
	return out
}
