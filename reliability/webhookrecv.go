package reliability

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/steward-oss/steward/signing"
)

// Headers of a webhook delivery besides the signature's (webhooks.HeaderEventID and HeaderEventType; the
// battery speaks the wire protocol, as a marketplace would).
const (
	headerEventID   = "X-Steward-Event-Id"
	headerEventType = "X-Steward-Event-Type"
)

// WebhookEnvelope is the part of a delivery's body the receiver reads.
type WebhookEnvelope struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	CaseID   string          `json:"case_id"`
	Sequence int64           `json:"sequence"`
	Data     json.RawMessage `json:"data"`
}

// WebhookArrival is an event the receiver accepted (answered 2xx) for the first time.
type WebhookArrival struct {
	WebhookEnvelope
	Body []byte
	At   time.Time
}

// WebhookReceiver is the marketplace's webhook endpoint in the battery. It checks every request's v2
// signature with the subscription's secret (a failure is answered 401 and counted), then, at random, fails
// a fraction of them with 500 and hangs a fraction until the sender gives up (longer than the dispatcher's
// timeout), and answers the rest 204, recording each accepted event by id: the first arrival, and how
// often it was accepted again (a retry whose answer was lost, or a redelivery).
type WebhookReceiver struct {
	Server *httptest.Server
	Path   string
	Secret []byte
	// FailRate and HangRate are the fractions of signed requests answered 500 and hung (SetFaults).
	FailRate, HangRate float64
	// MaxHang bounds a hang; a hang ends as soon as the sender closes the request.
	MaxHang time.Duration
	// OnAccepted, when set, runs (in its own goroutine) for each event the first time it is accepted.
	OnAccepted func(WebhookArrival)

	mu        sync.Mutex
	arrivals  []WebhookArrival // first acceptances, in order
	accepted  map[string]int   // event id → 2xx answers
	requests  int
	served500 int
	hung      int
	badSig    int
	malformed int // a body that is not an envelope, or headers that disagree with it
	last      time.Time
}

// NewWebhookReceiver starts a receiver on a free loopback port. Its secret must be set (SetSecret) before
// the first delivery.
func NewWebhookReceiver(failRate, hangRate float64, maxHang time.Duration) *WebhookReceiver {
	r := &WebhookReceiver{Path: "/hooks/steward", FailRate: failRate, HangRate: hangRate, MaxHang: maxHang, accepted: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+r.Path, r.serve)
	r.Server = httptest.NewServer(mux)
	return r
}

// URL is the URL to subscribe.
func (r *WebhookReceiver) URL() string { return r.Server.URL + r.Path }

// Close stops the server.
func (r *WebhookReceiver) Close() { r.Server.Close() }

// SetFaults changes the fractions of requests failed and hung from now on.
func (r *WebhookReceiver) SetFaults(failRate, hangRate float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.FailRate, r.HangRate = failRate, hangRate
}

// SetSecret sets the subscription's secret that signs the deliveries.
func (r *WebhookReceiver) SetSecret(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Secret = []byte(secret)
}

func (r *WebhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	r.requests++
	secret, failRate, hangRate, maxHang := r.Secret, r.FailRate, r.HangRate, r.MaxHang
	r.mu.Unlock()
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	bound, err := signing.Verify(secret, time.Now(), req.Header.Get(signing.HeaderTimestamp), req.Header.Get(signing.HeaderSignature),
		req.Method, req.URL.RequestURI(), body)
	if err != nil || !bound {
		r.mu.Lock()
		r.badSig++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var env WebhookEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.ID == "" || env.ID != req.Header.Get(headerEventID) ||
		env.Type != req.Header.Get(headerEventType) {
		r.mu.Lock()
		r.malformed++
		r.mu.Unlock()
		http.Error(w, "not an envelope, or headers that disagree with it", http.StatusBadRequest)
		return
	}
	switch x := rand.Float64(); {
	case x < hangRate:
		r.mu.Lock()
		r.hung++
		r.mu.Unlock()
		select {
		case <-req.Context().Done():
		case <-time.After(maxHang):
		}
		w.WriteHeader(http.StatusServiceUnavailable) // never an acceptance, even if the sender is still there
		return
	case x < hangRate+failRate:
		r.mu.Lock()
		r.served500++
		r.mu.Unlock()
		http.Error(w, "receiver failing at random", http.StatusInternalServerError)
		return
	}
	r.mu.Lock()
	r.accepted[env.ID]++
	first := r.accepted[env.ID] == 1
	a := WebhookArrival{WebhookEnvelope: env, Body: body, At: time.Now()}
	if first {
		r.arrivals = append(r.arrivals, a)
	}
	r.last = a.At
	on := r.OnAccepted
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	if first && on != nil {
		go on(a)
	}
}

// WebhookReceiverStats is what the receiver saw.
type WebhookReceiverStats struct {
	Arrivals                          []WebhookArrival // first acceptances, in order
	Accepted                          map[string]int   // event id → 2xx answers
	Requests, Served500, Hung, BadSig int
	Malformed                         int
	Deliveries, Retries               int // 2xx answers; those for an id accepted before
	LastAccepted                      time.Time
}

// Stats returns a copy of what the receiver saw so far.
func (r *WebhookReceiver) Stats() WebhookReceiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := WebhookReceiverStats{Arrivals: append([]WebhookArrival(nil), r.arrivals...), Accepted: map[string]int{}, Requests: r.requests,
		Served500: r.served500, Hung: r.hung, BadSig: r.badSig, Malformed: r.malformed, LastAccepted: r.last}
	for id, n := range r.accepted {
		s.Accepted[id] = n
		s.Deliveries += n
		s.Retries += n - 1
	}
	return s
}
