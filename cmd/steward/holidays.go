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
	for _, w := range holidayWarnings(cs)(time.Now()) {
		logger.Warn(w)
	}
	return cs, nil
}

// holidayWarnings reports the years, this one and next, that have no holiday data: in them only
// weekends count as days off, which /readyz and the start-up log say out loud.
func holidayWarnings(cs *sla.Calendars) func(now time.Time) []string {
	return func(now time.Time) []string {
		var out []string
		for _, y := range cs.MissingYears(now.Year(), now.Year()+1) {
			out = append(out, fmt.Sprintf("no holiday data for %d: only weekends count as days off; add the year's file with --holiday-files or $%s", y, sla.EnvHolidayFiles))
		}
		return out
	}
}
