package notifications_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/dingtalktest"
)

const (
	robotToken  = "tok3n-0f-the-r0b0t-5ecret"
	robotSecret = "SECd1ngta1k-s1gn1ng-5ecret"
)

// TestDingTalkSign: the signature of DingTalk's own example (timestamp 1577262236757, secret "this is
// secret"), computed independently with openssl.
func TestDingTalkSign(t *testing.T) {
	got := notifications.DingTalkSign("1577262236757", "this is secret")
	assert.Equal(t, "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=", got)
}

// TestDingTalkSendSigned: a signed message reaches a robot whose secret the fake checks, with the
// timestamp of the notifier's clock, as Markdown; the webhook's DingTalk host is replaced by the API URL.
func TestDingTalkSendSigned(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.Options{})
	defer fake.Close()
	webhook := fake.AddRobot(robotToken, robotSecret)
	require.True(t, strings.HasPrefix(webhook, "https://oapi.dingtalk.com/robot/send?access_token="), webhook)
	clock := time.Now().Add(-30 * time.Minute) // within DingTalk's hour
	d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), Now: func() time.Time { return clock }})

	require.NoError(t, d.Send(context.Background(), notifications.Robot{Webhook: webhook, Secret: robotSecret}, "标题 title", "### 标题\n\ntext"))
	msgs := fake.Messages(robotToken)
	require.Len(t, msgs, 1)
	assert.Equal(t, "markdown", msgs[0].MsgType)
	assert.Equal(t, "标题 title", msgs[0].Title)
	assert.Equal(t, "### 标题\n\ntext", msgs[0].Text)
	assert.Equal(t, clock.UnixMilli(), msgs[0].Timestamp.UnixMilli(), "the timestamp is the notifier's clock, in milliseconds")
	assert.Equal(t, "/robot/send", msgs[0].Path)
	assert.Equal(t, dingtalktest.Stats{Delivered: 1}, fake.Stats(robotToken))
}

// TestDingTalkSignatureRefused: a wrong secret, no secret for a signing robot, or a timestamp more than an
// hour off is refused by the fake with 310000, which is permanent.
func TestDingTalkSignatureRefused(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.Options{})
	defer fake.Close()
	webhook := fake.AddRobot(robotToken, robotSecret)
	tests := []struct {
		name   string
		secret string
		skew   time.Duration
	}{
		{"wrong secret", "SECnot-the-right-one", 0},
		{"no secret", "", 0},
		{"timestamp two hours old", robotSecret, -2 * time.Hour},
		{"timestamp two hours ahead", robotSecret, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), Now: func() time.Time { return time.Now().Add(tt.skew) }})
			err := d.Send(context.Background(), notifications.Robot{Webhook: webhook, Secret: tt.secret}, "t", "x")
			require.Error(t, err)
			assert.True(t, notifications.Permanent(err), "Permanent(%v)", err)
			assert.Contains(t, notifications.Reason(err), "310000")
			assertNoSecrets(t, err.Error(), notifications.Reason(err))
		})
	}
	assert.Equal(t, 0, fake.Stats(robotToken).Delivered)
	assert.Equal(t, len(tests), fake.Stats(robotToken).BadSign)
}

// TestDingTalkErrcodes: each class of DingTalk answer is permanent, rate-limited (temporary, with how long
// to wait) or temporary; an unknown errcode is temporary and logged.
func TestDingTalkErrcodes(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		permanent  bool
		retryAfter time.Duration // for a window of a second
	}{
		{"security settings", 310000, true, 0},
		{"token not exist", 300001, true, 0},
		{"group dissolved", 400013, true, 0},
		{"robot disabled", 400102, true, 0},
		{"send too fast 410100", 410100, false, 10 * time.Second},
		{"send too fast 130101", 130101, false, 10 * time.Second},
		{"busy", -1, false, 0},
		{"unknown errcode", 987654, false, 0},
		{"gateway 502", 502, false, 0},
		{"unavailable 503", 503, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewServer(dingtalktest.Options{Window: time.Second})
			defer fake.Close()
			webhook := fake.AddRobot(robotToken, robotSecret)
			var logs bytes.Buffer
			d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), Window: time.Second,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			robot := notifications.Robot{Webhook: webhook, Secret: robotSecret}
			fake.FailNext(robotToken, tt.code, 1)
			err := d.Send(context.Background(), robot, "t", "x")
			require.Error(t, err)
			assert.Equal(t, tt.permanent, notifications.Permanent(err), "Permanent(%v)", err)
			wait, limited := notifications.RetryAfter(err)
			assert.Equal(t, tt.retryAfter > 0, limited, "RetryAfter(%v)", err)
			assert.Equal(t, tt.retryAfter, wait)
			assertNoSecrets(t, err.Error(), notifications.Reason(err), logs.String())
			if tt.code == 987654 {
				assert.Contains(t, logs.String(), "987654", "an unknown errcode is logged")
			}
			if limited {
				// The robot is throttled: the next message is refused at once, without a call.
				err := d.Send(context.Background(), robot, "t", "x")
				wait, ok := notifications.RetryAfter(err)
				assert.True(t, ok, "RetryAfter(%v)", err)
				assert.Greater(t, wait, 8*time.Second)
				assert.Equal(t, 1, fake.Stats(robotToken).Failed, "no call while throttled")
				return
			}
			if !tt.permanent {
				require.NoError(t, d.Send(context.Background(), robot, "t", "x"), "a temporary failure passes")
				assert.Len(t, fake.Messages(robotToken), 1)
			}
		})
	}
}

// TestDingTalkRobotRemoved: once the robot is removed from its group, every message fails for good.
func TestDingTalkRobotRemoved(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.Options{})
	defer fake.Close()
	webhook := fake.AddRobot(robotToken, "")
	d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL()})
	robot := notifications.Robot{Webhook: webhook}
	require.NoError(t, d.Send(context.Background(), robot, "t", "x"), "a robot without signing")
	fake.Remove(robotToken)
	err := d.Send(context.Background(), robot, "t", "x")
	assert.True(t, notifications.Permanent(err), "Permanent(%v)", err)
	assert.Contains(t, notifications.Reason(err), "robot removed")
	assertNoSecrets(t, err.Error())
}

// TestDingTalkRateLimit: 45 messages to one robot at once all arrive, none beyond the robot's limit in any
// window (the fake refuses those), and in order of arrival at the notifier; another robot is not held up.
func TestDingTalkRateLimit(t *testing.T) {
	const window = 400 * time.Millisecond
	fake := dingtalktest.NewServer(dingtalktest.Options{Window: window})
	defer fake.Close()
	webhook := fake.AddRobot(robotToken, robotSecret)
	other := fake.AddRobot("other-robot-token", "")
	d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), Window: window})

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 45)
	for i := range errs {
		wg.Go(func() {
			errs[i] = d.Send(context.Background(), notifications.Robot{Webhook: webhook, Secret: robotSecret}, fmt.Sprint(i), "x")
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, err := range errs {
		assert.NoError(t, err, "message %d", i)
	}
	st := fake.Stats(robotToken)
	assert.Equal(t, dingtalktest.Stats{Delivered: 45}, st, "all delivered, none refused for going too fast")
	assert.GreaterOrEqual(t, elapsed, 2*window, "45 messages at 20 a window take over two windows")
	msgs := fake.Messages(robotToken)
	for i := 20; i < len(msgs); i++ {
		assert.GreaterOrEqual(t, msgs[i].At.Sub(msgs[i-20].At), window, "messages %d and %d are a window apart", i-20, i)
	}

	// One robot's queue does not hold up another's.
	t0 := time.Now()
	require.NoError(t, d.Send(context.Background(), notifications.Robot{Webhook: other}, "t", "x"))
	assert.Less(t, time.Since(t0), window/2)
}

// TestDingTalkQueueFIFO: messages wait their turn in the order they came, and one whose context ends while
// it waits leaves the queue without being sent and without holding up those behind it.
func TestDingTalkQueueFIFO(t *testing.T) {
	const window = 300 * time.Millisecond
	fake := dingtalktest.NewServer(dingtalktest.Options{PerMinute: 1, Window: window})
	defer fake.Close()
	webhook := fake.AddRobot(robotToken, "")
	d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), PerMinute: 1, Window: window})
	robot := notifications.Robot{Webhook: webhook}
	require.NoError(t, d.Send(context.Background(), robot, "0", "x"))

	var wg sync.WaitGroup
	gone, cancel := context.WithTimeout(context.Background(), window/3)
	defer cancel()
	var cancelled error
	wg.Go(func() { cancelled = d.Send(gone, robot, "gone", "x") })
	time.Sleep(20 * time.Millisecond)
	for i := 1; i <= 3; i++ {
		wg.Go(func() { assert.NoError(t, d.Send(context.Background(), robot, fmt.Sprint(i), "x")) })
		time.Sleep(20 * time.Millisecond) // each enqueued before the next
	}
	wg.Wait()
	require.ErrorIs(t, cancelled, context.DeadlineExceeded)
	var titles []string
	for _, m := range fake.Messages(robotToken) {
		titles = append(titles, m.Title)
	}
	assert.Equal(t, []string{"0", "1", "2", "3"}, titles)
	assert.Equal(t, 0, fake.Stats(robotToken).RateLimited)
}

// TestFakeEnforcesLimit: the fake itself refuses a robot's messages beyond its limit with DingTalk's
// errcode, so a notifier that did not wait would be caught.
func TestFakeEnforcesLimit(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.Options{})
	defer fake.Close()
	fake.AddRobot(robotToken, "")
	codes := map[int]int{}
	for range 25 {
		res, err := http.Post(fake.URL()+"/robot/send?access_token="+robotToken, "application/json",
			strings.NewReader(`{"msgtype":"markdown","markdown":{"title":"t","text":"x"}}`))
		require.NoError(t, err)
		var a struct{ Errcode int }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&a))
		res.Body.Close()
		codes[a.Errcode]++
	}
	assert.Equal(t, map[int]int{0: 20, dingtalktest.ErrTooFast: 5}, codes)
	assert.Equal(t, dingtalktest.Stats{Delivered: 20, RateLimited: 5}, fake.Stats(robotToken))
}

// TestDingTalkAPIURL: the API URL replaces the webhook's scheme and host and prefixes its path, keeping
// the webhook's path and query; without one the webhook is called as it is.
func TestDingTalkAPIURL(t *testing.T) {
	var mu sync.Mutex
	var got []*url.URL
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer srv.Close()
	webhook := "https://oapi.dingtalk.com/robot/send?access_token=" + robotToken + "&extra=kept"
	tests := []struct {
		name, apiURL, webhook, path string
	}{
		{"host only", srv.URL, webhook, "/robot/send"},
		{"with a path", srv.URL + "/proxy/dingtalk/", webhook, "/proxy/dingtalk/robot/send"},
		{"with a path, no slash", srv.URL + "/proxy", webhook, "/proxy/robot/send"},
		{"none", "", srv.URL + "/robot/send?access_token=" + robotToken + "&extra=kept", "/robot/send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: tt.apiURL, Now: func() time.Time { return time.UnixMilli(1577262236757) }})
			require.NoError(t, d.Send(context.Background(), notifications.Robot{Webhook: tt.webhook, Secret: "this is secret"}, "t", "x"))
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, got, 1)
			assert.Equal(t, tt.path, got[0].Path)
			q := got[0].Query()
			assert.Equal(t, robotToken, q.Get("access_token"))
			assert.Equal(t, "kept", q.Get("extra"))
			assert.Equal(t, "1577262236757", q.Get("timestamp"))
			assert.Equal(t, "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=", q.Get("sign"))
			assert.Contains(t, got[0].RawQuery, "sign=hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D", "the sign is URL-encoded once")
		})
	}
}

// TestDingTalkErrorsHoldNoSecrets: a network failure, a gateway's answer and an errmsg quoting the request
// never put the access token, the signature or the secret in an error or a log.
func TestDingTalkErrorsHoldNoSecrets(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 555555, "errmsg": "bad request " + r.URL.String()})
	}))
	defer echo.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	webhook := "https://oapi.dingtalk.com/robot/send?access_token=" + robotToken
	for _, apiURL := range []string{echo.URL, closed.URL} {
		var logs bytes.Buffer
		d := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: apiURL, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		err := d.Send(context.Background(), notifications.Robot{Webhook: webhook, Secret: robotSecret}, "t", "x")
		require.Error(t, err)
		assert.False(t, notifications.Permanent(err))
		assertNoSecrets(t, err.Error(), notifications.Reason(err), logs.String(), fmt.Sprintf("%+v", err))
		assert.Contains(t, err.Error(), notifications.Robot{Webhook: webhook}.String(), "the robot is named by its digest")
	}
	// A malformed webhook is permanent, and not repeated either.
	err := notifications.NewDingTalk(notifications.DingTalkOptions{}).Send(context.Background(),
		notifications.Robot{Webhook: "oapi.dingtalk.com/robot/send?token=" + robotToken}, "t", "x")
	assert.True(t, notifications.Permanent(err), "Permanent(%v)", err)
	assertNoSecrets(t, err.Error())
}

func assertNoSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{robotToken, robotSecret, url.QueryEscape(robotToken)} {
			assert.NotContains(t, s, secret)
		}
		assert.NotRegexp(t, `sign=[^\[]`, s, "a signature is redacted")
	}
}

// TestDingTalkMarkdown: a message renders with its title, severity, case, text, fields and link, and says
// "steward" for a robot whose security setting is a keyword.
func TestDingTalkMarkdown(t *testing.T) {
	m := notifications.Message{CaseID: "sos:ORD-1", Service: "sos", Severity: notifications.SeverityCritical,
		Title: "SOS response clause breached", Text: "The response clock ran out.\n\nRefund owed: 50%.",
		Fields: []notifications.Field{{Name: "Stage", Value: "confirmation"}, {Name: "Partner", Value: "acme"}},
		Link:   "http://ui/namespaces/default/workflows/sos:ORD-1"}
	title, text := notifications.DingTalkMarkdown(m)
	assert.Equal(t, "🚨 SOS response clause breached", title)
	for _, want := range []string{"### 🚨 SOS response clause breached", "critical", "sos:ORD-1", "The response clock ran out.",
		"- **Stage**: confirmation", "- **Partner**: acme", "[Open in Temporal UI](http://ui/namespaces/default/workflows/sos:ORD-1)", "steward"} {
		assert.Contains(t, text, want)
	}
	long := m
	long.Text = strings.Repeat("很长的文字 ", 2000)
	_, text = notifications.DingTalkMarkdown(long)
	assert.LessOrEqual(t, len(text), 4000)
	assert.True(t, strings.HasSuffix(text, "steward"), "the keyword survives a cut")
}

// TestDingTalkChannels: a partner's robot is one more channel beside the base notifier's (the log here,
// as without a Slack token); a robot that cannot be opened fails for good; a robot is never read back.
func TestDingTalkChannels(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.Options{})
	defer fake.Close()
	webhook := fake.AddRobot(robotToken, robotSecret)
	rec := &notifications.Recorder{}
	n := notifications.WithDingTalk(rec, notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL()}))
	ctx := context.Background()

	m := notifications.Message{Key: "k1", CaseID: "sos:1", Title: "offer", Severity: notifications.SeverityInfo}
	assert.Equal(t, []string{notifications.LogChannel}, n.Channels(m))
	m.PartnerRobot = &notifications.PartnerRobot{Channel: notifications.PartnerRobotChannel("acme"),
		Robot: notifications.Robot{Webhook: webhook, Secret: robotSecret}}
	assert.Equal(t, []string{"log", "dingtalk:acme"}, n.Channels(m))

	found, err := n.Delivered(ctx, m, "dingtalk:acme", time.Now())
	require.NoError(t, err)
	assert.False(t, found, "a robot cannot be read back")
	require.NoError(t, n.Notify(ctx, m))
	assert.Len(t, rec.Messages(), 1)
	require.Len(t, fake.Messages(robotToken), 1)
	assert.Equal(t, "ℹ️ offer", fake.Messages(robotToken)[0].Title)
	found, err = n.Delivered(ctx, m, "dingtalk:acme", time.Now())
	require.NoError(t, err)
	assert.True(t, found, "this process remembers what it delivered")
	require.NoError(t, n.NotifyChannel(ctx, m, "dingtalk:acme"))
	assert.Len(t, fake.Messages(robotToken), 1, "a key delivered is not sent again")

	m.Key = "k2"
	m.PartnerRobot = &notifications.PartnerRobot{Channel: "dingtalk:acme", Err: errors.New("secret key missing or wrong")}
	err = n.NotifyChannel(ctx, m, "dingtalk:acme")
	assert.True(t, notifications.Permanent(err), "Permanent(%v)", err)
	assert.Contains(t, notifications.Reason(err), "secret key missing or wrong")
}
