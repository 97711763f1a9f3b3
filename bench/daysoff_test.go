package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/sla"
)

// TestDaysOffPutsResponseClocksPastTheRun holds what the footprint relies on: on the bench stack's
// calendar an SOS case bought during the run, even in Beijing business hours, has its response clock due
// after the run, and the year's built-in holidays and make-up days still count.
func TestDaysOffPutsResponseClocksPastTheRun(t *testing.T) {
	zone, err := time.LoadLocation(sla.DefaultZone)
	require.NoError(t, err)
	clause, err := sla.LookupClause(sla.ServiceSOS, sla.ClauseResponse)
	require.NoError(t, err)
	target, err := clause.TargetFor(sla.Inputs{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name          string
		from          time.Time
		run           time.Duration
		wantDue       time.Time
		stillOff, set time.Time // a built-in holiday and make-up day of the year
	}{
		{name: "a Wednesday afternoon", from: time.Date(2026, 12, 2, 14, 0, 0, 0, zone), run: 90 * time.Minute,
			wantDue:  time.Date(2026, 12, 3, 9, 20, 0, 0, zone),
			stillOff: time.Date(2026, 10, 2, 10, 0, 0, 0, zone), set: time.Date(2026, 10, 10, 10, 0, 0, 0, zone)},
		{name: "a make-up Saturday running into Sunday", from: time.Date(2026, 2, 28, 17, 0, 0, 0, zone), run: 8 * time.Hour,
			wantDue:  time.Date(2026, 3, 2, 9, 20, 0, 0, zone),
			stillOff: time.Date(2026, 2, 16, 10, 0, 0, 0, zone), set: time.Date(2026, 2, 14, 10, 0, 0, 0, zone)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths, err := daysOff(t.TempDir(), tc.from, tc.from.Add(tc.run))
			require.NoError(t, err)
			cs, err := sla.NewCalendars(sla.Config{HolidayFiles: paths})
			require.NoError(t, err)
			cal, err := cs.Get(sla.Calendar5x8)
			require.NoError(t, err)
			due, err := cal.Add(tc.from, target)
			require.NoError(t, err)
			require.True(t, due.Equal(tc.wantDue), "paid at %s: the response is due %s, want %s", tc.from, due, tc.wantDue)
			require.False(t, cal.IsWorking(tc.stillOff), "built-in holiday %s", tc.stillOff)
			require.True(t, cal.IsWorking(tc.set), "built-in make-up day %s", tc.set)
		})
	}
}
