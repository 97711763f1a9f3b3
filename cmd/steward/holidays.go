package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// loadCalendars builds the business calendars from the built-in holiday data plus the files listed
// (comma-separated), and makes them the workflows' calendars.
func loadCalendars(files string, logger *slog.Logger) (*sla.Calendars, error) {
	var cfg sla.Config
	for _, f := range strings.Split(files, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.HolidayFiles = append(cfg.HolidayFiles, f)
		}
	}
	cs, err := sla.NewCalendars(cfg)
	if err != nil {
		return nil, fmt.Errorf("holiday calendars: %w", err)
	}
	workflows.SetCalendars(cs)
	// Every worker of the task queue must count with the same data: the fingerprints show it.
	logger.Info("holiday data loaded", slog.Any("years", cs.HolidayVersions()))
	for _, w := range holidayWarnings(cs)(time.Now()) {
		logger.Warn(w)
	}
	return cs, nil
}

// holidayWarnings reports the years, this one and next, that have no holiday data: in them only
// weekends count as days off, which /readyz and the start-up log say out loud. A clock whose deadline
// falls in such a year is re-planned once a worker has the year's data (worker.Replanner).
func holidayWarnings(cs *sla.Calendars) func(now time.Time) []string {
	return func(now time.Time) []string {
		var out []string
		for _, y := range cs.MissingYears(now.Year(), now.Year()+1) {
			out = append(out, fmt.Sprintf("no holiday data for %d: only weekends count as days off; add the year's file with --holiday-files or $%s "+
				"(deadlines already computed into %d are re-planned when a worker starts with it)", y, sla.EnvHolidayFiles, y))
		}
		return out
	}
}
