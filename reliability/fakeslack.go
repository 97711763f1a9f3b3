package reliability

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SlackMode is how the fake Slack answers chat.postMessage.
type SlackMode int

// The fake Slack's modes.
const (
	SlackOK          SlackMode = iota // delivers
	SlackDown                         // answers 500, delivers nothing
	SlackRateLimited                  // answers 429 with Retry-After, delivers nothing
)

// earlyGrace is how long after a 429 a request still counts as sent before the client could have read it.
const earlyGrace = 250 * time.Millisecond

// timerSlop is how early before the limit's end a request may arrive and still count as honouring it
// (Retry-After is whole seconds, timers and clocks are not exact).
const timerSlop = 50 * time.Millisecond

// FakeSlack is a Slack Web API peer for the battery: it counts each (notification key, channel) it
// delivered, can fail with 500 or rate-limit with 429 + Retry-After, and counts requests that arrive while
// a rate limit it announced is still in force (a client that does not honour Retry-After).
type FakeSlack struct {
	Server     *httptest.Server
	RetryAfter time.Duration

	mu           sync.Mutex
	mode         SlackMode
	delivered    map[string]int               // key + "\x00" + channel → deliveries
	channels     map[string][]json.RawMessage // channel → metadata of each message, oldest first
	lookups      int
	onDelivered  func()
	served500    int
	served429    int
	early        int
	soon         int
	connLimited  map[string]time.Time // client address → end of the rate limit last announced to it
	earlyAt      []time.Duration
	limitedSince time.Time
	blockedUntil time.Time
	maxWait      time.Duration // the longest gap between a 429 and the next delivery
}

// NewFakeSlack starts the fake on a free port.
func NewFakeSlack() *FakeSlack {
	f := &FakeSlack{delivered: map[string]int{}, channels: map[string][]json.RawMessage{}, connLimited: map[string]time.Time{}, RetryAfter: 2 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("/chat.postMessage", f.postMessage)
	mux.HandleFunc("/conversations.history", f.history)
	mux.HandleFunc("/conversations.list", f.list)
	f.Server = httptest.NewServer(mux)
	return f
}

// URL is the base URL for STEWARD_SLACK_API_URL.
func (f *FakeSlack) URL() string { return f.Server.URL + "/" }

// Close stops the server.
func (f *FakeSlack) Close() { f.Server.Close() }

// OnNextDelivery runs fn once, when the next message has been delivered and before it is answered.
func (f *FakeSlack) OnNextDelivery(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onDelivered = fn
}

// SetMode switches how the fake answers from now on.
func (f *FakeSlack) SetMode(m SlackMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = m
}

func (f *FakeSlack) postMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	f.mu.Lock()
	if !f.limitedSince.IsZero() && now.Before(f.blockedUntil.Add(-timerSlop)) && now.Sub(f.limitedSince) > earlyGrace {
		f.soon++
	}
	// A connection reads a 429 before it carries another request, so a request on it (more than the grace
	// after: another sender may have taken the connection before the 429 was handled) before the Retry-After
	// has passed ignored the limit.
	if until, ok := f.connLimited[r.RemoteAddr]; ok && now.Before(until.Add(-timerSlop)) && until.Sub(now) < f.RetryAfter-earlyGrace {
		f.early++
		f.earlyAt = append(f.earlyAt, until.Sub(now))
	}
	switch f.mode {
	case SlackDown:
		f.served500++
		f.mu.Unlock()
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return
	case SlackRateLimited:
		f.served429++
		f.limitedSince, f.blockedUntil = now, now.Add(f.RetryAfter)
		f.connLimited[r.RemoteAddr] = now.Add(f.RetryAfter)
		f.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if !f.limitedSince.IsZero() {
		f.maxWait = max(f.maxWait, now.Sub(f.limitedSince))
		f.limitedSince = time.Time{}
	}
	var meta struct {
		Payload struct {
			Key string `json:"key"`
		} `json:"event_payload"`
	}
	_ = json.Unmarshal([]byte(r.FormValue("metadata")), &meta)
	f.delivered[meta.Payload.Key+"\x00"+r.FormValue("channel")]++
	f.channels[r.FormValue("channel")] = append(f.channels[r.FormValue("channel")], json.RawMessage(r.FormValue("metadata")))
	hook := f.onDelivered
	f.onDelivered = nil
	f.mu.Unlock()
	if hook != nil {
		hook() // before the answer: the sender never learns the message arrived
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.FormValue("channel"), "ts": strconv.FormatInt(now.UnixMicro(), 10)})
}

// history answers conversations.history with every message of the channel (names are accepted as IDs).
func (f *FakeSlack) history(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.lookups++
	var msgs []map[string]any
	for i, meta := range f.channels[r.FormValue("channel")] {
		msgs = append(msgs, map[string]any{"type": "message", "ts": strconv.Itoa(1_700_000_000+i) + ".000100", "metadata": meta})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

// list answers conversations.list with every channel a message reached; the fake's channel IDs are the
// names the messages were posted to.
func (f *FakeSlack) list(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	var chans []map[string]any
	for ch := range f.channels {
		chans = append(chans, map[string]any{"id": ch, "name": strings.TrimPrefix(ch, "#")})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channels": chans})
}

// SlackStats is what the fake saw.
type SlackStats struct {
	Delivered map[string]int
	Served500 int
	Served429 int
	// Early counts requests sent on a connection before the Retry-After announced on it had passed
	// (0: honoured); EarlyAt says how early each was.
	Early   int
	EarlyAt []time.Duration
	// Soon counts requests that arrived (on any connection, more than 250 ms later) within Retry-After of
	// another request's 429 — senders that had not yet seen that 429 included.
	Soon int
	// Lookups counts conversations.history calls: retries of deliveries a crash interrupted.
	Lookups int
	// MaxWait is the longest time from a 429 to the next delivered message.
	MaxWait time.Duration
}

// Stats returns a copy of what the fake saw.
func (f *FakeSlack) Stats() SlackStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := make(map[string]int, len(f.delivered))
	for k, v := range f.delivered {
		d[k] = v
	}
	return SlackStats{Delivered: d, Served500: f.served500, Served429: f.served429, Early: f.early, Soon: f.soon, EarlyAt: append([]time.Duration(nil), f.earlyAt...), Lookups: f.lookups, MaxWait: f.maxWait}
}
