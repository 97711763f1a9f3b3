package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/steward-oss/steward/sla"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/workflows"
)

// Client is a marketplace and partner bots talking to steward's API: to BaseURL, or spread over BaseURLs
// (several API processes; each attempt of a call goes to the next). Every call is retried on a transport
// error or a 5xx until its context ends; signed calls are signed afresh on each attempt and steps carry an
// Idempotency-Key, so a retry after a crash is answered with the first result.
type Client struct {
	BaseURL  string
	BaseURLs []string
	Secret   []byte
	Manager  string
	Partners map[string]string // partner ID → engineer token
	HTTP     *http.Client

	Calls     atomic.Int64 // requests sent
	Transport atomic.Int64 // transport errors (refused, reset) retried
	Status5xx atomic.Int64 // 5xx answers retried
	Steps     atomic.Int64 // steps that succeeded

	next atomic.Uint64
}

// base is the API the next attempt goes to.
func (c *Client) base() string {
	if len(c.BaseURLs) == 0 {
		return c.BaseURL
	}
	return c.BaseURLs[(c.next.Add(1)-1)%uint64(len(c.BaseURLs))]
}

// auth decorates a request with its credentials.
type auth func(req *http.Request, body []byte)

func (c *Client) signed() auth {
	return func(req *http.Request, body []byte) {
		ts := time.Now()
		req.Header.Set(api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set(api.HeaderSignature, api.SignRequest(c.Secret, ts, req.Method, req.URL.Path, body))
	}
}

func bearer(token string) auth {
	return func(req *http.Request, _ []byte) { req.Header.Set("Authorization", "Bearer "+token) }
}

// result is an answer after retries; Retried tells whether an earlier attempt may have been applied.
type result struct {
	Status  int
	Body    []byte
	Retried bool
}

// call sends the request until it gets an answer below 500 or ctx ends.
func (c *Client) call(ctx context.Context, method, path string, body []byte, a auth, header ...string) (result, error) {
	backoff := 100 * time.Millisecond
	var res result
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base()+path, bytes.NewReader(body))
		if err != nil {
			return res, err
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		a(req, body)
		c.Calls.Add(1)
		res.Retried = attempt > 0
		resp, err := c.HTTP.Do(req)
		if err == nil {
			res.Status = resp.StatusCode
			res.Body, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err == nil && res.Status < 500 {
				return res, nil
			}
			if err == nil {
				c.Status5xx.Add(1)
			} else {
				c.Transport.Add(1)
			}
		} else {
			c.Transport.Add(1)
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("%s %s: gave up after %d attempts (last status %d): %w", method, path, attempt+1, res.Status, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// View reads a case as the manager.
func (c *Client) View(ctx context.Context, caseID string) (workflows.CaseView, error) {
	var v workflows.CaseView
	res, err := c.call(ctx, http.MethodGet, "/v1/cases/"+caseID, nil, bearer(c.Manager))
	if err != nil {
		return v, err
	}
	if res.Status != http.StatusOK {
		return v, fmt.Errorf("view %s: %d %s", caseID, res.Status, res.Body)
	}
	return v, json.Unmarshal(res.Body, &v)
}

// SOSOrder is one SOS purchase the bots drive.
type SOSOrder struct {
	OrderID     string
	PaidAt      time.Time
	AmountCents int64
	// DingTalk, when set, is the customer's DingTalk robot (its token; the secret is "SEC" + token), given
	// in the purchase as the customer's channel.
	DingTalk string
}

// RobotSecret is the signing secret of the battery's customer robot with token.
func RobotSecret(token string) string { return "SEC" + token }

// sosStep is one call of an SOS case's happy path and the timeline event that shows it was applied.
type sosStep struct {
	name, path  string
	event       workflows.Event
	marketplace bool
	body        string
}

// sosSteps is an SOS case from acceptance to close, in the order the lifecycle takes them.
var sosSteps = []sosStep{
	{name: "accept", path: "/steps/accept", event: workflows.EventPartnerAccepted, body: `{}`},
	{name: "assets", path: "/assets", event: workflows.EventAssetsSubmitted, marketplace: true,
		body: `{"hosts":[{"instance_id":"i-web1","ip":"10.0.0.11","os":"CentOS 7"},{"instance_id":"i-db1","ip":"10.0.0.12","os":"Ubuntu 22.04"}]}`},
	{name: "contact", path: "/steps/contact", event: workflows.EventCustomerContacted, body: `{"note":"called the on-call admin"}`},
	{name: "confirm", path: "/steps/confirm", event: workflows.EventIncidentConfirmed,
		body: `{"security_incident":true,"incident_class":"malware","incident_type":"webshell","summary":"defaced pages","attack_ongoing":true}`},
	{name: "contain", path: "/steps/contain", event: workflows.EventContained, body: `{"actions":["took the site offline"]}`},
	{name: "eradicate", path: "/steps/eradicate", event: workflows.EventEradicated, body: `{"cleaned":["removed 3 webshells"],"malware_removed":true}`},
	{name: "analyze", path: "/steps/analyze", event: workflows.EventCauseAnalyzed, body: `{"cause":"upload vulnerability in the CMS"}`},
	{name: "report", path: "/steps/report", event: workflows.EventReportSubmitted, body: `{"summary":"webshells removed","recommendations":["patch the CMS"]}`},
	{name: "verdict", path: "/report/confirm", event: workflows.EventReportConfirmed, marketplace: true, body: `{"rating":5}`},
	{name: "close", path: "/steps/close", event: workflows.EventCaseClosed, body: `{"follow_up":"no recurrence"}`},
}

// SOSEvents are the timeline events a driven SOS case has exactly once.
func SOSEvents() []string {
	ev := []string{string(workflows.EventCaseOpened)}
	for _, s := range sosSteps {
		ev = append(ev, string(s.event))
	}
	return ev
}

// RunSOS purchases o and drives its case through every step as the marketplace and the partner it is
// offered to. It returns the case ID once the close step is answered.
func (c *Client) RunSOS(ctx context.Context, o SOSOrder) (string, error) {
	caseID, err := c.Purchase(ctx, o)
	if err != nil {
		return caseID, err
	}
	partner, err := c.awaitPartner(ctx, caseID)
	if err != nil {
		return caseID, err
	}
	token := c.Partners[partner]
	for _, s := range sosSteps {
		a := bearer(token)
		if s.marketplace {
			a = c.signed()
		}
		res, err := c.call(ctx, http.MethodPost, "/v1/cases/"+caseID+s.path, []byte(s.body), a, "Idempotency-Key", o.OrderID+"-"+s.name)
		if err != nil {
			return caseID, err
		}
		if res.Status == http.StatusConflict && res.Retried {
			// An earlier attempt may have been applied before the answer was lost: the timeline tells.
			if done, err := c.hasEvent(ctx, caseID, string(s.event)); err != nil || !done {
				return caseID, fmt.Errorf("%s %s after a retry: %d %s", caseID, s.name, res.Status, res.Body)
			}
		} else if res.Status != http.StatusOK {
			return caseID, fmt.Errorf("%s %s: %d %s", caseID, s.name, res.Status, res.Body)
		}
		c.Steps.Add(1)
	}
	return caseID, nil
}

// Purchase sends o's signed purchase callback (again on a transport error or 5xx) and returns the case ID.
func (c *Client) Purchase(ctx context.Context, o SOSOrder) (string, error) {
	caseID := workflows.CaseWorkflowID(workflows.ServiceSOS, o.OrderID)
	body := map[string]any{
		"order_id": o.OrderID, "customer_id": "cust-reliability", "service": workflows.ServiceSOS, "spec": sla.SpecAnalysisRemote,
		"quantity": 1, "amount_cents": o.AmountCents, "currency": "CNY", "paid_at": o.PaidAt.UTC().Format(time.RFC3339),
		"contact": map[string]any{"name": "Reliability Bot", "phone": "+86 138 0000 0000", "email": "bot@example.com"},
	}
	if o.DingTalk != "" {
		body["customer_channel"] = map[string]any{"dingtalk": map[string]string{
			"webhook": "https://oapi.dingtalk.com/robot/send?access_token=" + o.DingTalk, "secret": RobotSecret(o.DingTalk)}}
	}
	purchase, _ := json.Marshal(body)
	res, err := c.call(ctx, http.MethodPost, "/v1/purchases", purchase, c.signed())
	if err != nil {
		return caseID, err
	}
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		return caseID, fmt.Errorf("purchase %s: %d %s", o.OrderID, res.Status, res.Body)
	}
	return caseID, nil
}

// awaitPartner waits until the case is offered to a partner and that partner's engineer can see it, as a
// partner bot would find it in its own list: the manager's view reads the workflow, the partner's access
// follows the case projection, which a worker restart can hold back for a few seconds.
func (c *Client) awaitPartner(ctx context.Context, caseID string) (string, error) {
	var (
		v   workflows.CaseView
		err error
	)
	for {
		v, err = c.View(ctx, caseID)
		if err == nil && v.PartnerID != "" {
			if token, ok := c.Partners[v.PartnerID]; ok {
				var res result
				if res, err = c.call(ctx, http.MethodGet, "/v1/cases/"+caseID, nil, bearer(token)); err == nil && res.Status == http.StatusOK {
					return v.PartnerID, nil
				}
			} else {
				return "", fmt.Errorf("%s offered to unknown partner %q", caseID, v.PartnerID)
			}
		}
		select {
		case <-ctx.Done():
			var events []string
			for _, e := range v.Timeline {
				events = append(events, e.Event+": "+e.Detail)
			}
			return "", fmt.Errorf("%s: no partner offered: %w (last error %v; stage %q, timeline %q)", caseID, ctx.Err(), err, v.Stage, events)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Client) hasEvent(ctx context.Context, caseID, event string) (bool, error) {
	v, err := c.View(ctx, caseID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(v.Timeline, func(e workflows.TimelineEntry) bool { return e.Event == event }), nil
}
