// Package dingtalktest is a fake DingTalk custom-robot server for tests: robots registered by access
// token, each message's signature and timestamp checked as DingTalk checks them, DingTalk's limit of 20
// messages a minute per robot enforced (beyond it a message is refused with errcode 410100, as DingTalk
// refuses it), permanent and temporary failures on demand, and every message delivered recorded per robot.
//
// Point a notifier at it with notifications.DingTalkOptions{APIURL: s.URL()} and give it the webhooks
// AddRobot returns: they name DingTalk's own host, as real webhooks do, so the API URL is exercised too.
package dingtalktest

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/steward-oss/steward/notifications"
)

// Errcodes the fake answers with (DingTalk's).
const (
	// ErrSecurity (310000): a bad or missing signature, or a timestamp outside the window.
	ErrSecurity = notifications.DingTalkSecurityRefused
	// ErrTokenNotExist (300001): no robot has the access token, or it was removed.
	ErrTokenNotExist = notifications.DingTalkTokenNotExist
	// ErrTooFast (410100): the robot's per-minute limit is used up.
	ErrTooFast = notifications.DingTalkSendLimited
	// ErrGroupDissolved (400013): the robot's group was dissolved.
	ErrGroupDissolved = notifications.DingTalkGroupDissolved
	// ErrBusy (-1): DingTalk is busy; a temporary failure.
	ErrBusy = -1
	// ErrBadRequest (40035): the body is not a message DingTalk understands.
	ErrBadRequest = 40035
)

// webhookBase is the webhook DingTalk gives a robot, before its access token.
const webhookBase = "https://oapi.dingtalk.com/robot/send?access_token="

// Options tune a Server; the zero value behaves as DingTalk does.
type Options struct {
	// PerMinute is how many messages a robot takes per Window: notifications.DefaultDingTalkPerMinute
	// when zero.
	PerMinute int
	// Window is the span PerMinute counts over: a minute when zero.
	Window time.Duration
	// Now is the server's clock, against which timestamps are checked; time.Now when nil.
	Now func() time.Time
}

// Message is a message a robot delivered to its group.
type Message struct {
	MsgType string // "markdown", "text", …
	Title   string // markdown.title
	Text    string // markdown.text, or text.content
	// At is when it arrived; Timestamp is the signed timestamp it carried (zero for an unsigned robot).
	At        time.Time
	Timestamp time.Time
	// Path is the request's path, which ends in /robot/send (an API URL may prefix it).
	Path string
}

// Stats counts what a robot was sent.
type Stats struct {
	Delivered   int // messages delivered
	RateLimited int // messages refused beyond the per-minute limit (errcode 410100)
	BadSign     int // messages refused for a missing or wrong signature or a timestamp outside the window
	Failed      int // messages refused by FailNext or because the robot was removed
}

// Server is the fake robot server. It is safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	perMinute int
	window    time.Duration
	now       func() time.Time

	mu     sync.Mutex
	robots map[string]*robot // by access token
}

type robot struct {
	secret    string
	removed   bool
	failCode  int
	failCount int
	msgs      []Message
	recent    []time.Time // arrivals of delivered messages within the window
	stats     Stats
}

// NewServer starts a fake on a free loopback port. Close it when done.
func NewServer(o Options) *Server {
	s := &Server{perMinute: o.PerMinute, window: o.Window, now: o.Now, robots: make(map[string]*robot)}
	if s.perMinute <= 0 {
		s.perMinute = notifications.DefaultDingTalkPerMinute
	}
	if s.window <= 0 {
		s.window = time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server's base URL, for notifications.DingTalkOptions.APIURL (--dingtalk-api-url).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddRobot registers a robot with its access token and signing secret ("" for a robot without signing)
// and returns its webhook, on DingTalk's host as DingTalk gives it. A robot added again is reset.
func (s *Server) AddRobot(token, secret string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots[token] = &robot{secret: secret}
	return Webhook(token)
}

// Webhook is the webhook DingTalk gives the robot with token.
func Webhook(token string) string { return webhookBase + url.QueryEscape(token) }

// Remove removes the robot from its group: from now on its messages are answered errcode 300001 (token
// does not exist), a permanent failure.
func (s *Server) Remove(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.robots[token]; r != nil {
		r.removed = true
	}
}

// FailNext answers the robot's next n messages with errcode instead of delivering them: for example
// ErrBusy (temporary), ErrTooFast (rate-limited), ErrSecurity or ErrGroupDissolved (permanent). An
// errcode from 500 to 599 answers that HTTP status with a body that is not DingTalk's, as a failing
// gateway does.
func (s *Server) FailNext(token string, errcode, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.robots[token]; r != nil {
		r.failCode, r.failCount = errcode, n
	}
}

// Messages returns the messages the robot delivered, oldest first.
func (s *Server) Messages(token string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.robots[token]
	if r == nil {
		return nil
	}
	return append([]Message(nil), r.msgs...)
}

// Stats returns what the robot was sent.
func (s *Server) Stats(token string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.robots[token]; r != nil {
		return r.stats
	}
	return Stats{}
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/robot/send") {
		http.NotFound(w, req)
		return
	}
	q := req.URL.Query()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		answer(w, ErrBadRequest, "unreadable body")
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	arrived := time.Now() // the limit is counted on the real clock, as the client's waits are
	r := s.robots[q.Get("access_token")]
	if r == nil || r.removed {
		if r != nil {
			r.stats.Failed++
		}
		answer(w, ErrTokenNotExist, "token is not exist")
		return
	}
	var signedAt time.Time
	if r.secret != "" {
		ts, sign := q.Get("timestamp"), q.Get("sign")
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sign == "" {
			r.stats.BadSign++
			answer(w, ErrSecurity, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
			return
		}
		signedAt = time.UnixMilli(ms)
		if d := now.Sub(signedAt); d > notifications.DingTalkTimestampWindow || d < -notifications.DingTalkTimestampWindow {
			r.stats.BadSign++
			answer(w, ErrSecurity, "invalid timestamp")
			return
		}
		if !hmac.Equal([]byte(sign), []byte(notifications.DingTalkSign(ts, r.secret))) {
			r.stats.BadSign++
			answer(w, ErrSecurity, "sign not match")
			return
		}
	}
	if r.failCount > 0 {
		r.failCount--
		r.stats.Failed++
		if r.failCode >= 500 && r.failCode <= 599 {
			http.Error(w, "upstream unavailable", r.failCode)
			return
		}
		answer(w, r.failCode, "failing on demand")
		return
	}
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.MsgType == "" {
		answer(w, ErrBadRequest, "缺少参数 json")
		return
	}
	msg := Message{MsgType: m.MsgType, Title: m.Markdown.Title, Text: m.Markdown.Text, At: arrived, Timestamp: signedAt, Path: req.URL.Path}
	switch m.MsgType {
	case "markdown":
		if msg.Title == "" || msg.Text == "" {
			answer(w, ErrBadRequest, "缺少参数 markdown.title/markdown.text")
			return
		}
	case "text":
		msg.Text = m.Text.Content
	}
	for len(r.recent) > 0 && !r.recent[0].After(arrived.Add(-s.window)) {
		r.recent = r.recent[1:]
	}
	if len(r.recent) >= s.perMinute {
		r.stats.RateLimited++
		answer(w, ErrTooFast, "send too fast, exceed 20 times per minute")
		return
	}
	r.recent = append(r.recent, arrived)
	r.msgs = append(r.msgs, msg)
	r.stats.Delivered++
	answer(w, notifications.DingTalkOK, "ok")
}

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": msg})
}
