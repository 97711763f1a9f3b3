package workflows

import (
	"sync"

	"github.com/steward-oss/steward/sla"
)

var (
	calMu     sync.RWMutex
	calendars *sla.Calendars
)

// SetCalendars sets the business calendars workflows count SLA time in. The worker calls it once at start,
// from its configuration (sla.Config); every worker of the task queue must use the same configuration.
// Clock arithmetic runs inside side effects, so a case replays with the deadlines it was given even if
// the holiday data changes later.
func SetCalendars(cs *sla.Calendars) {
	calMu.Lock()
	defer calMu.Unlock()
	calendars = cs
}

// Calendars returns the calendars set by SetCalendars, or the built-in ones.
func Calendars() *sla.Calendars {
	calMu.RLock()
	cs := calendars
	calMu.RUnlock()
	if cs != nil {
		return cs
	}
	calMu.Lock()
	defer calMu.Unlock()
	if calendars == nil {
		cs, err := sla.NewCalendars(sla.Config{})
		if err != nil {
			// The embedded data is checked by sla's tests; failing here is a broken build.
			panic("sla: built-in calendars: " + err.Error())
		}
		calendars = cs
	}
	return calendars
}
