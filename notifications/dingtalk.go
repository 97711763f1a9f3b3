package notifications

// The DingTalk custom robot ("自定义机器人") is one signed HTTP POST per message, so steward makes it itself.
// The Go packages for it that were read — github.com/blinkbean/dingtalk and github.com/CatchZeng/dingtalk —
// sign correctly, but both post to a hard-coded oapi.dingtalk.com (no --dingtalk-api-url), take no context
// (blinkbean: a fixed 2 s; CatchZeng: none), return DingTalk's errcode only as text (nothing to tell a
// rate limit from a removed robot), neither queues under the robot's 20-a-minute limit, and their errors
// can carry the webhook — the access token — in their text (blinkbean prints the token; a *url.Error
// from net/http names the URL). Neither is served by the module proxy this build uses either.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DingTalk robot limits and defaults.
const (
	// DefaultDingTalkPerMinute is how many messages a DingTalk robot accepts a minute; beyond it DingTalk
	// refuses them and throttles the robot for ten minutes.
	DefaultDingTalkPerMinute = 20
	// DingTalkTimestampWindow is how far a signed request's timestamp may be from DingTalk's clock.
	DingTalkTimestampWindow = time.Hour
	// dingTalkThrottle is how long DingTalk throttles a robot that exceeded its limit, in windows of
	// the per-minute limit (ten minutes by default).
	dingTalkThrottleWindows = 10
	// maxDingTalkAnswer bounds how much of an answer is read.
	maxDingTalkAnswer = 64 << 10
)

// DingTalk errcodes of the custom robot's send API (https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages).
const (
	// DingTalkOK is a message delivered.
	DingTalkOK = 0
	// DingTalkSecurityRefused (310000): a security setting refused the message — a custom keyword missing
	// from it, a signature that does not match, a timestamp out of the window, a sender IP not listed.
	DingTalkSecurityRefused = 310000
	// DingTalkTokenNotExist (300001): no robot has this access token (it was removed).
	DingTalkTokenNotExist = 300001
	// DingTalkTooFast (130101) and DingTalkSendLimited (410100): the robot sent too many messages; DingTalk
	// throttles it for a while.
	DingTalkTooFast     = 130101
	DingTalkSendLimited = 410100
	// DingTalkGroupDissolved (400013): the robot's group was dissolved.
	DingTalkGroupDissolved = 400013
)

// permanentDingTalkErrors are the errcodes of a message no retry delivers: the robot, its group or its
// security settings refuse it, or the message itself is refused, until someone changes them.
var permanentDingTalkErrors = map[int]string{
	DingTalkSecurityRefused: "security settings refused the message (keyword, signature, timestamp or IP)",
	DingTalkTokenNotExist:   "robot removed (token does not exist)",
	300005:                  "robot removed (token does not exist)",
	DingTalkGroupDissolved:  "group dissolved",
	400101:                  "robot removed (access_token does not exist)",
	400102:                  "robot disabled",
	400105:                  "message type not supported",
	400106:                  "robot does not exist",
	430101:                  "message refused: unsafe link",
	430102:                  "message refused: unsuitable text",
	430103:                  "message refused: unsuitable image",
	430104:                  "message refused: unsuitable content",
	40035:                   "message refused: missing or invalid parameter",
	43004:                   "message refused: invalid Content-Type",
}

// rateLimitDingTalkErrors are the errcodes of a robot throttled for sending too fast.
var rateLimitDingTalkErrors = map[int]bool{DingTalkTooFast: true, DingTalkSendLimited: true}

// Robot is a DingTalk group's custom robot: its webhook (https://oapi.dingtalk.com/robot/send?access_token=…)
// and, when its security setting is "加签" (signing), its secret (SEC…). Both are secrets: the webhook's
// access token is enough to post to the group.
type Robot struct{ Webhook, Secret string }

// String names the robot without its secrets, for logs and errors: "dingtalk robot-3fa2c1d05b7e9a01", a
// digest of its webhook (the same name db.RobotID gives it).
func (r Robot) String() string {
	sum := sha256.Sum256([]byte(r.Webhook))
	return "dingtalk robot-" + hex.EncodeToString(sum[:8])
}

// Validate checks that the webhook is an http(s) URL with an access_token, as DingTalk gives it.
// Its error never holds the webhook or the secret.
func (r Robot) Validate() error {
	u, err := url.Parse(strings.TrimSpace(r.Webhook))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("dingtalk webhook: not an http(s) URL")
	}
	if u.Query().Get("access_token") == "" {
		return errors.New("dingtalk webhook: no access_token in its query")
	}
	return nil
}

// DingTalkOptions configure a DingTalk notifier; the zero value sends to DingTalk itself.
type DingTalkOptions struct {
	// APIURL, when set, replaces the scheme and host of every robot call and prefixes its path, if it has
	// one, keeping the webhook's path and query: a proxy, or a fake robot server in tests.
	APIURL string
	// PerMinute is how many messages one robot is sent per Window; DefaultDingTalkPerMinute when zero.
	PerMinute int
	// Window is the span PerMinute counts over: a minute unless set (tests shorten it).
	Window time.Duration
	// HTTPClient makes the calls; one with a 10-second timeout when nil.
	HTTPClient *http.Client
	// Now is the clock that timestamps signed requests; time.Now when nil. Waits use the real clock.
	Now func() time.Time
	// Logger hears of errcodes DingTalk answered that steward does not know; slog.Default when nil.
	Logger *slog.Logger
}

// DingTalk posts Markdown messages to DingTalk custom robots, signed when the robot has a secret. It keeps
// each robot under its per-minute limit, queueing messages first come, first served, and never drops one.
// It is safe for concurrent use; one process's limit does not count what other processes send.
type DingTalk struct {
	apiURL    *url.URL
	perMinute int
	window    time.Duration
	client    *http.Client
	now       func() time.Time
	logger    *slog.Logger

	mu     sync.Mutex
	robots map[string]*robotQueue // by webhook
}

// NewDingTalk returns a DingTalk notifier. An APIURL that does not parse is ignored, and logged.
func NewDingTalk(o DingTalkOptions) *DingTalk {
	d := &DingTalk{perMinute: o.PerMinute, window: o.Window, client: o.HTTPClient, now: o.Now, logger: o.Logger,
		robots: make(map[string]*robotQueue)}
	if d.perMinute <= 0 {
		d.perMinute = DefaultDingTalkPerMinute
	}
	if d.window <= 0 {
		d.window = time.Minute
	}
	if d.client == nil {
		d.client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.logger == nil {
		d.logger = slog.Default()
	}
	if o.APIURL != "" {
		u, err := url.Parse(o.APIURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			d.logger.Error("dingtalk api url ignored: not an absolute URL")
		} else {
			d.apiURL = u
		}
	}
	return d
}

// DingTalkError is DingTalk's refusal of a message: its errcode and errmsg (or, for an answer that was
// not DingTalk's, the HTTP status). It never holds the webhook or the secret.
type DingTalkError struct {
	Robot   string // Robot.String(): a fingerprint, not the webhook
	Status  int    // the HTTP status
	Code    int    // DingTalk's errcode; 0 when the answer had none
	Message string // DingTalk's errmsg

	retryAfter time.Duration
}

func (e *DingTalkError) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("%s: HTTP %d", e.Robot, e.Status)
	}
	return fmt.Sprintf("%s: errcode %d: %s", e.Robot, e.Code, e.Message)
}

// RetryAfter is how long DingTalk throttles the robot; 0 when the refusal is not a rate limit.
func (e *DingTalkError) RetryAfter() time.Duration { return e.retryAfter }

// RetryAfter reports how long to wait before sending again when err, or an error it wraps, is a rate
// limit: a DingTalk robot throttled for sending too fast.
func RetryAfter(err error) (time.Duration, bool) {
	var rl interface{ RetryAfter() time.Duration }
	if errors.As(err, &rl) {
		if d := rl.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// Send posts a Markdown message to the robot. It waits, first come first served and respecting ctx, for
// the robot's per-minute limit, and never drops a message. Its error is Permanent (Undeliverable) when no
// retry can deliver — the webhook is malformed, the signature or another security setting (keyword, IP)
// refuses it, the robot was removed, its group dissolved — and otherwise temporary: a rate limit from
// DingTalk (RetryAfter says how long), a 5xx, a network failure, an errcode steward does not know (logged).
// No error text holds the webhook's access token or the secret.
func (d *DingTalk) Send(ctx context.Context, r Robot, title, markdown string) error {
	if err := r.Validate(); err != nil {
		return Undeliverable(err.Error(), err)
	}
	target, err := d.target(r)
	if err != nil {
		return Undeliverable(err.Error(), err)
	}
	body, err := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": markdown}})
	if err != nil {
		return fmt.Errorf("dingtalk: %w", err)
	}
	q := d.queue(r.Webhook)
	if err := q.acquire(ctx); err != nil {
		return fmt.Errorf("%s: waiting for its turn: %w", r, err)
	}
	defer q.release()
	if wait := time.Until(q.blockedUntil); wait > 0 {
		return &DingTalkError{Robot: r.String(), Code: DingTalkSendLimited, Message: "throttled after sending too fast", retryAfter: wait}
	}
	if err := q.waitSlot(ctx, d.perMinute, d.window); err != nil {
		return fmt.Errorf("%s: waiting for its per-minute limit: %w", r, err)
	}
	err = d.post(ctx, r, target, body)
	q.sent(time.Now(), d.perMinute)
	var de *DingTalkError
	if errors.As(err, &de) && de.retryAfter > 0 {
		q.blockedUntil = time.Now().Add(de.retryAfter)
	}
	return err
}

// target is the URL a message to r goes to: the webhook, moved to the API URL when one is set, with the
// signature's timestamp and sign appended when r has a secret.
func (d *DingTalk) target(r Robot) (string, error) {
	u, err := url.Parse(strings.TrimSpace(r.Webhook))
	if err != nil {
		return "", errors.New("dingtalk webhook: not a URL")
	}
	if d.apiURL != nil {
		u.Scheme, u.Host, u.User = d.apiURL.Scheme, d.apiURL.Host, d.apiURL.User
		if p := strings.TrimSuffix(d.apiURL.Path, "/"); p != "" {
			u.Path = p + "/" + strings.TrimPrefix(u.Path, "/")
			u.RawPath = ""
		}
	}
	if r.Secret != "" {
		ts := strconv.FormatInt(d.now().UnixMilli(), 10)
		sign := url.QueryEscape(DingTalkSign(ts, r.Secret))
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += "timestamp=" + ts + "&sign=" + sign
	}
	return u.String(), nil
}

// DingTalkSign is DingTalk's signature of a request at timestamp (milliseconds, in decimal) for a robot's
// secret: Base64(HMAC-SHA256(key secret, timestamp + "\n" + secret)), before URL-encoding.
func DingTalkSign(timestamp, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// post makes the call and classifies its answer.
func (d *DingTalk) post(ctx context.Context, r Robot, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Undeliverable("dingtalk webhook: cannot make a request of it", errors.New(redactErr(err.Error(), target)))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	res, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error names the URL, access token and signature included.
			err = &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
		}
		return fmt.Errorf("%s: %w", r, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxDingTalkAnswer))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", r, err)
	}
	var answer struct {
		Code    *int   `json:"errcode"`
		Message string `json:"errmsg"`
	}
	if jerr := json.Unmarshal(raw, &answer); jerr != nil || answer.Code == nil {
		// Not DingTalk's answer (a proxy, a load balancer): temporary, whatever the status.
		return &DingTalkError{Robot: r.String(), Status: res.StatusCode, retryAfter: d.retryAfterHeader(res)}
	}
	code, msg := *answer.Code, redactErr(answer.Message, target)
	if code == DingTalkOK && res.StatusCode < 300 {
		return nil
	}
	e := &DingTalkError{Robot: r.String(), Status: res.StatusCode, Code: code, Message: msg}
	switch {
	case rateLimitDingTalkErrors[code]:
		e.retryAfter = dingTalkThrottleWindows * d.window
		return e
	case permanentDingTalkErrors[code] != "":
		return Undeliverable(fmt.Sprintf("dingtalk %d: %s", code, permanentDingTalkErrors[code]), e)
	case code == DingTalkOK:
		return e // an HTTP error with errcode 0: temporary
	default:
		d.logger.WarnContext(ctx, "dingtalk answered an unknown errcode; retrying", slog.String("robot", r.String()),
			slog.Int("errcode", code), slog.String("errmsg", msg), slog.Int("status", res.StatusCode))
		return e
	}
}

// retryAfterHeader reads a 429's Retry-After (seconds), capped at the throttle DingTalk imposes.
func (d *DingTalk) retryAfterHeader(res *http.Response) time.Duration {
	if res.StatusCode != http.StatusTooManyRequests {
		return 0
	}
	limit := dingTalkThrottleWindows * d.window
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, limit)
	}
	return d.window
}

// RedactURL returns raw without its query and user info: a robot's webhook holds its access token, and a
// signed call its signature.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[url]"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "[redacted]"
	}
	u.Fragment = ""
	return u.String()
}

// redactErr removes target's query values (access token, signature) from s, in case a message quotes them.
func redactErr(s, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return s
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 {
				s = strings.ReplaceAll(s, v, "[redacted]")
				s = strings.ReplaceAll(s, url.QueryEscape(v), "[redacted]")
			}
		}
	}
	return s
}

// queue returns the robot's queue.
func (d *DingTalk) queue(webhook string) *robotQueue {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := strings.TrimSpace(webhook)
	q, ok := d.robots[key]
	if !ok {
		q = &robotQueue{}
		d.robots[key] = q
	}
	return q
}

// robotQueue serialises one robot's messages, first come first served, and remembers when its last sends
// ended. One message is in flight at a time and the next starts only when the one perMinute before it
// ended a window ago: DingTalk receives each message before its send ends, so no window of its clock
// sees more than perMinute of them, even when the network delays some more than others.
type robotQueue struct {
	mu      sync.Mutex
	busy    bool
	waiters []chan struct{} // FIFO; closing one hands it the turn

	// Read and written only by the holder of the turn.
	ends         []time.Time // when the last sends ended, oldest first, at most perMinute
	blockedUntil time.Time   // DingTalk throttles the robot until then
}

// acquire waits for the robot's turn, or ctx's end.
func (q *robotQueue) acquire(ctx context.Context) error {
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	q.waiters = append(q.waiters, ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		defer q.mu.Unlock()
		select {
		case <-ch: // handed the turn meanwhile: pass it on
			q.handOn()
		default:
			for i, w := range q.waiters {
				if w == ch {
					q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
					break
				}
			}
		}
		return ctx.Err()
	}
}

// release gives the turn to the next waiter.
func (q *robotQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handOn()
}

// handOn passes the turn to the first waiter, or frees it; q.mu is held.
func (q *robotQueue) handOn() {
	if len(q.waiters) == 0 {
		q.busy = false
		return
	}
	next := q.waiters[0]
	q.waiters = q.waiters[1:]
	close(next)
}

// waitSlot waits until a message may start: the send perMinute before it ended at least a window ago.
func (q *robotQueue) waitSlot(ctx context.Context, perMinute int, window time.Duration) error {
	if len(q.ends) < perMinute {
		return nil
	}
	wait := time.Until(q.ends[len(q.ends)-perMinute].Add(window))
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sent records that a send ended at at (delivered or not: DingTalk may have counted it).
func (q *robotQueue) sent(at time.Time, perMinute int) {
	q.ends = append(q.ends, at)
	if len(q.ends) > perMinute {
		q.ends = q.ends[len(q.ends)-perMinute:]
	}
}
