package sla

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// embeddedHolidays holds one file per region and year, named REGION-YEAR.yaml (see doc.go).
//
//go:embed holidays/*.yaml
var embeddedHolidays embed.FS

// maxHolidayDays bounds one holiday entry: China's longest is 9 days; a longer entry is a typo.
const maxHolidayDays = 31

// HolidayFile is one region's published schedule for one year, as stored in a holiday YAML file.
type HolidayFile struct {
	// Region names the holiday set, e.g. "cn"; a calendar refers to it by this name.
	Region string `yaml:"region" json:"region"`
	// Year is the year the schedule was published for. Its data counts as complete for that year.
	Year int `yaml:"year" json:"year"`
	// Off lists the holidays: inclusive ranges of days off, possibly reaching into the previous or
	// next year (2024's New Year holiday starts on 2023-12-30).
	Off []HolidayRange `yaml:"off" json:"off"`
	// Work lists the make-up working days (调休): weekend days that are working days.
	Work []string `yaml:"work" json:"work"`
}

// HolidayRange is one holiday: the days From..To inclusive, as YYYY-MM-DD.
type HolidayRange struct {
	Name string `yaml:"name" json:"name"`
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
}

// day is a civil date as yyyymmdd, the key of holiday lookups.
type day int32

func dayOf(y int, m time.Month, d int) day { return day(y*10000 + int(m)*100 + d) }

func (d day) year() int { return int(d) / 10000 }

func (d day) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", int(d)/10000, int(d)/100%100, int(d)%100)
}

func parseDay(s string) (day, time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return dayOf(t.Date()), t, nil
}

var regionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseHolidayFile decodes and validates one holiday file. Unknown keys, malformed dates, reversed or
// overlapping ranges, repeated days, and make-up days that are not weekend days are errors.
func ParseHolidayFile(data []byte) (HolidayFile, error) {
	var f HolidayFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return HolidayFile{}, fmt.Errorf("%w: holiday file is empty", ErrInvalid)
		}
		return HolidayFile{}, fmt.Errorf("%w: holiday file: %v", ErrInvalid, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return HolidayFile{}, fmt.Errorf("%w: holiday file %s-%d: more than one YAML document", ErrInvalid, f.Region, f.Year)
	}
	if _, err := f.days(); err != nil {
		return HolidayFile{}, err
	}
	return f, nil
}

// days validates f and returns its days, each marked off (true) or working (false).
func (f HolidayFile) days() (map[day]bool, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: holiday file %s-%d: %s", ErrInvalid, f.Region, f.Year, fmt.Sprintf(format, args...))
	}
	if !regionRE.MatchString(f.Region) {
		return nil, bad("region %q must be lowercase letters, digits or _", f.Region)
	}
	if f.Year < 1970 || f.Year > 2200 {
		return nil, bad("year %d out of range", f.Year)
	}
	// Entries may reach a month into the neighbouring years, no further.
	lo, hi := time.Date(f.Year-1, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(f.Year+1, 1, 31, 0, 0, 0, 0, time.UTC)
	inWindow := func(t time.Time) bool { return !t.Before(lo) && !t.After(hi) }
	out := make(map[day]bool)
	for i, r := range f.Off {
		if r.Name == "" {
			return nil, bad("off[%d]: name is empty", i)
		}
		_, from, err := parseDay(r.From)
		if err != nil {
			return nil, bad("off[%d] %s: from: %v", i, r.Name, err)
		}
		_, to, err := parseDay(r.To)
		if err != nil {
			return nil, bad("off[%d] %s: to: %v", i, r.Name, err)
		}
		if to.Before(from) {
			return nil, bad("off[%d] %s: to %s is before from %s", i, r.Name, r.To, r.From)
		}
		if !inWindow(from) || !inWindow(to) || (from.Year() != f.Year && to.Year() != f.Year) {
			return nil, bad("off[%d] %s: %s..%s is not in %d", i, r.Name, r.From, r.To, f.Year)
		}
		if n := int(to.Sub(from).Hours()/24) + 1; n > maxHolidayDays {
			return nil, bad("off[%d] %s: %d days is longer than %d", i, r.Name, n, maxHolidayDays)
		}
		for t := from; !t.After(to); t = t.AddDate(0, 0, 1) {
			d := dayOf(t.Date())
			if _, dup := out[d]; dup {
				return nil, bad("off[%d] %s: %s overlaps another holiday", i, r.Name, d)
			}
			out[d] = true
		}
	}
	for i, s := range f.Work {
		d, t, err := parseDay(s)
		if err != nil {
			return nil, bad("work[%d]: %v", i, err)
		}
		if !inWindow(t) {
			return nil, bad("work[%d]: %s is not in %d", i, s, f.Year)
		}
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, bad("work[%d]: %s is a %s, already a working day", i, s, wd)
		}
		if off, dup := out[d]; dup {
			if off {
				return nil, bad("work[%d]: %s is also a holiday", i, s)
			}
			return nil, bad("work[%d]: %s is listed twice", i, s)
		}
		out[d] = false
	}
	return out, nil
}

// Holidays is one region's holiday data over the years it has files for. It is immutable once built
// and safe for concurrent use.
type Holidays struct {
	region string
	years  []int          // sorted years with a file
	days   map[day]bool   // true: off; false: make-up working day
	prints map[int]string // each year's Fingerprint
}

// Region returns the region the data is for, e.g. "cn".
func (h *Holidays) Region() string { return h.region }

// Years returns the years with data, ascending.
func (h *Holidays) Years() []int { return slices.Clone(h.years) }

// MissingYears returns the years in from..to (inclusive) with no data, ascending. For those years only
// weekends count as days off, which the service must report loudly rather than take as "no holidays".
func (h *Holidays) MissingYears(from, to int) []int {
	var missing []int
	for y := from; y <= to; y++ {
		if _, ok := slices.BinarySearch(h.years, y); !ok {
			missing = append(missing, y)
		}
	}
	return missing
}

// lookup reports whether d is listed, and if so whether it is off.
func (h *Holidays) lookup(d day) (off, listed bool) {
	off, listed = h.days[d]
	return off, listed
}

// RegionCN is the holiday region of China's statutory holidays and make-up working days.
const RegionCN = "cn"

// BuiltinHolidayFile returns the embedded schedule of region for year, and whether there is one.
func BuiltinHolidayFile(region string, year int) (HolidayFile, bool, error) {
	data, err := embeddedHolidays.ReadFile(path.Join("holidays", region+"-"+strconv.Itoa(year)+".yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return HolidayFile{}, false, nil
	} else if err != nil {
		return HolidayFile{}, false, fmt.Errorf("read embedded holidays: %w", err)
	}
	f, err := ParseHolidayFile(data)
	return f, err == nil, err
}

// LoadHolidays builds the region's holiday data from the embedded files plus the given extra files
// (read from disk, e.g. next year's schedule). An extra file replaces the embedded file of the same year,
// so a corrected schedule needs no release either; extra files of other regions are ignored. Two extra
// files for the same year, a malformed file, or a day listed by two years' files is an error.
func LoadHolidays(region string, extraFiles ...string) (*Holidays, error) {
	files, err := loadHolidayFiles(extraFiles)
	if err != nil {
		return nil, err
	}
	var mine []HolidayFile
	for _, f := range files {
		if f.Region == region {
			mine = append(mine, f)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("%w: holiday region %q: no data", ErrUnknown, region)
	}
	return newHolidays(region, mine)
}

// loadHolidayFiles returns the embedded files, with each extra file added or replacing the embedded one
// for its region and year, ordered by region and year.
func loadHolidayFiles(extraFiles []string) ([]HolidayFile, error) {
	type key struct {
		region string
		year   int
	}
	var order []key
	byKey := make(map[key]HolidayFile)
	entries, err := embeddedHolidays.ReadDir("holidays")
	if err != nil {
		return nil, fmt.Errorf("read embedded holidays: %w", err)
	}
	for _, e := range entries {
		data, err := embeddedHolidays.ReadFile(path.Join("holidays", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded holidays: %w", err)
		}
		f, err := ParseHolidayFile(data)
		if err != nil {
			return nil, fmt.Errorf("embedded %s: %w", e.Name(), err)
		}
		if want := f.Region + "-" + strconv.Itoa(f.Year) + ".yaml"; e.Name() != want {
			return nil, fmt.Errorf("%w: embedded %s holds %s", ErrInvalid, e.Name(), want)
		}
		k := key{f.Region, f.Year}
		order = append(order, k)
		byKey[k] = f
	}
	fromDisk := make(map[key]string)
	for _, p := range extraFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: holiday file: %v", ErrInvalid, err)
		}
		f, err := ParseHolidayFile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		k := key{f.Region, f.Year}
		if prev, dup := fromDisk[k]; dup {
			return nil, fmt.Errorf("%w: holiday files %s and %s are both for %s-%d", ErrInvalid, prev, p, f.Region, f.Year)
		}
		fromDisk[k] = p
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = f
	}
	slices.SortFunc(order, func(a, b key) int {
		if a.region != b.region {
			if a.region < b.region {
				return -1
			}
			return 1
		}
		return a.year - b.year
	})
	out := make([]HolidayFile, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out, nil
}

// newHolidays merges files of one region; each file must be for a different year and no day may be
// listed by two files.
func newHolidays(region string, files []HolidayFile) (*Holidays, error) {
	h := &Holidays{region: region, days: make(map[day]bool), prints: make(map[int]string)}
	owner := make(map[day]int)
	for _, f := range files {
		if f.Region != region {
			return nil, fmt.Errorf("%w: holiday file %s-%d is not for region %s", ErrInvalid, f.Region, f.Year, region)
		}
		if _, dup := slices.BinarySearch(h.years, f.Year); dup {
			return nil, fmt.Errorf("%w: two holiday files for %s-%d", ErrInvalid, region, f.Year)
		}
		days, err := f.days()
		if err != nil {
			return nil, err
		}
		// Sorted, so that an error names the same day every time.
		for _, d := range slices.Sorted(maps.Keys(days)) {
			off := days[d]
			if y, dup := owner[d]; dup {
				return nil, fmt.Errorf("%w: %s is listed by the %s holiday files of %d and %d", ErrInvalid, d, region, y, f.Year)
			}
			owner[d] = f.Year
			h.days[d] = off
		}
		h.years = append(h.years, f.Year)
		slices.Sort(h.years)
		h.prints[f.Year] = fingerprint(days)
	}
	return h, nil
}
