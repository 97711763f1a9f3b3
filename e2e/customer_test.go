package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/customer"
	"github.com/steward-oss/steward/notifications/dingtalktest"
	"github.com/steward-oss/steward/workflows"
)

// mailbox is a Mailer that keeps what it is given.
type mailbox struct {
	mu    sync.Mutex
	mails []notifications.Mail
}

func (m *mailbox) Send(_ context.Context, mail notifications.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, mail)
	return nil
}

func (m *mailbox) sent() []notifications.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mails)
}

// alerts keeps what the customer dispatcher tells operations.
type alerts struct {
	mu   sync.Mutex
	msgs []notifications.Message
}

func (a *alerts) add(_ context.Context, m notifications.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs = append(a.msgs, m)
}

func (a *alerts) all() []notifications.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.msgs)
}

// runCustomerDispatcher delivers the stack's customer messages to robot (the fake DingTalk, through its
// API URL, as --dingtalk-api-url does) and mail, as a worker does, until the test ends.
func (s *stack) runCustomerDispatcher(t *testing.T, robot *dingtalktest.Server, mail notifications.Mailer, ops *alerts) {
	t.Helper()
	d := &customer.Dispatcher{Store: s.store, Mailer: mail, Logger: s.logger, Poll: 50 * time.Millisecond,
		DingTalk: notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: robot.URL(), Logger: s.logger}),
		Alert:    ops.add}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestCustomerHearsInChinese runs an SOS case bought with a customer channel — a signing DingTalk robot and
// an e-mail recipient — from purchase to close, its response clock already breached by a late callback.
// The customer's group gets each moment that matters to them, in Chinese, in the order the case recorded
// them, every message signed and under the robot's limit, and the same by e-mail; each delivery is a
// line of the case's timeline. Another case whose robot was removed from its group still runs, its
// e-mail still arrives, and operations hear of the robot once.
func TestCustomerHearsInChinese(t *testing.T) {
	s := newStack(t)
	robot := dingtalktest.NewServer(dingtalktest.Options{})
	t.Cleanup(robot.Close)
	box, ops := &mailbox{}, &alerts{}
	s.runCustomerDispatcher(t, robot, box, ops)

	const token, secret = "grp-7731-token", "SECgrp7731robotsecret"
	body := purchaseBody("ORD-CUST-1")
	body["spec"] = "handling"
	body["paid_at"] = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	body["customer_channel"] = map[string]any{"dingtalk": map[string]string{"webhook": robot.AddRobot(token, secret), "secret": secret},
		"emails": []string{"secops@customer.example.cn"}}
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	path, partner := "/v1/cases/sos:ORD-CUST-1", s.partners["p-alpha"]
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, "p-alpha", s.view(c, path, partner).PartnerID)
	}, 20*time.Second, 100*time.Millisecond)

	ok := func(r response) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	}
	step := func(name, payload string) {
		ok(s.bearer(http.MethodPost, path+"/steps/"+name, partner, []byte(payload)))
	}
	step("accept", `{}`)
	step("contact", `{"note":"called the on-call admin"}`)
	ok(s.signed(http.MethodPost, path+"/assets", []byte(`{"hosts":[{"instance_id":"i-web1","ip":"10.0.0.11","os":"CentOS 7"}]}`)))
	step("confirm", `{"security_incident":true,"incident_class":"malware","incident_type":"webshell","summary":"webshell in uploads"}`)
	step("eradicate", `{"cleaned":["removed the webshell"],"malware_removed":true}`)
	step("report", `{"summary":"webshell removed","recommendations":["patch the upload form"]}`)
	ok(s.signed(http.MethodPost, path+"/report/confirm", []byte(`{"rating":5}`)))
	step("close", `{"follow_up":"回访确认无复发","follow_up_until":"2026-12-20"}`)

	// What the customer is told, in the case's order: the day-3 reminder and the refund the late callback
	// owes come first (the watch raises them as the case starts), then one message per moment.
	want := []string{"服务商已接单", "工程师已与您联系", "安全事件已确认", "安全事件应急响应报告已提交", "服务已结束"}
	var msgs []dingtalktest.Message
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		msgs = robot.Messages(token)
		assert.Len(c, msgs, len(want)+2)
	}, 30*time.Second, 100*time.Millisecond)
	stored, err := s.store.ListCustomerMessages(context.Background(), "sos:ORD-CUST-1")
	require.NoError(t, err)
	var titles, storedTitles []string
	for _, m := range msgs {
		titles = append(titles, m.Title)
		assert.Equal(t, "markdown", m.MsgType)
		assert.Contains(t, m.Text, "订单号 ORD-CUST-1", "every message names the order")
		assert.False(t, m.Timestamp.IsZero(), "signed: %s", m.Title)
		assert.NotContains(t, m.Text, "engineer of", "no engineer's name")
		assert.Equal(t, "/robot/send", m.Path)
	}
	for _, m := range stored {
		storedTitles = append(storedTitles, m.Title)
	}
	// The reminder and the refund are recorded in the case's first workflow task at the same instant, by its
	// two watchers, one record after the other; the outbox lists messages of one instant by key, not by
	// record, so between those two only the set is compared. Every later message has its own instant.
	require.Len(t, storedTitles, len(titles))
	assert.ElementsMatch(t, storedTitles[:2], titles[:2])
	assert.Equal(t, storedTitles[2:], titles[2:], "delivered in the order the case recorded them")
	assert.ElementsMatch(t, append([]string{"退款通知", "请提交资产清单"}, want...), titles)
	var chain []string
	for _, ti := range titles {
		if slices.Contains(want, ti) {
			chain = append(chain, ti)
		}
	}
	assert.Equal(t, want, chain)
	text := strings.Join(func() (out []string) {
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return
	}(), "\n")
	for _, frag := range []string{"**p-alpha**", "晚于约定的响应时限", "**有害程序事件**（webshell）", "**¥2,500.00**", "响应时效", "第 3 天", "《安全事件应急响应报告》第 1 版",
		"回访确认无复发（跟进至 2026-12-20）"} {
		assert.Contains(t, text, frag)
	}
	st := robot.Stats(token)
	assert.Equal(t, dingtalktest.Stats{Delivered: len(msgs)}, st, "every message signed right, none refused, none over the limit")

	// The same by e-mail, and each delivery on the timeline.
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Len(c, box.sent(), len(msgs)) }, 20*time.Second, 100*time.Millisecond)
	for _, m := range box.sent() {
		assert.Equal(t, []string{"secops@customer.example.cn"}, m.To)
		assert.Contains(t, m.Subject, "订单 ORD-CUST-1")
		assert.NotContains(t, m.Text, "**", "plain text")
	}
	var mv workflows.CaseView
	s.bearer(http.MethodGet, path, s.manager, nil).json(t, &mv)
	var dingtalk, email int
	for _, e := range mv.Timeline {
		if e.Event == string(workflows.EventCustomerNotified) {
			switch {
			case strings.HasPrefix(e.Detail, "sent to the customer's DingTalk group: "):
				dingtalk++
			case strings.HasPrefix(e.Detail, "e-mailed to the customer: "):
				email++
			}
			assert.NotContains(t, e.Detail, "secops@", "the line names no address")
		}
	}
	assert.Equal(t, len(msgs), dingtalk)
	assert.Equal(t, len(msgs), email)

	// A robot removed from its group: the case goes on, the e-mail arrives, operations hear of it once.
	const gone = "grp-gone-token"
	hook := robot.AddRobot(gone, "")
	robot.Remove(gone)
	body = purchaseBody("ORD-CUST-2")
	body["customer_channel"] = map[string]any{"dingtalk": map[string]string{"webhook": hook}, "emails": []string{"it@other.example.cn"}}
	res = s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	path2 := "/v1/cases/sos:ORD-CUST-2"
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, "p-alpha", s.view(c, path2, partner).PartnerID)
	}, 20*time.Second, 100*time.Millisecond)
	ok(s.bearer(http.MethodPost, path2+"/steps/accept", partner, []byte(`{}`)))
	ok(s.bearer(http.MethodPost, path2+"/steps/contact", partner, []byte(`{"note":"reached"}`)))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var to []string
		for _, m := range box.sent() {
			if m.To[0] == "it@other.example.cn" {
				to = append(to, m.Subject)
			}
		}
		assert.Len(c, to, 2, "the e-mails of the accept and the contact")
		assert.Len(c, ops.all(), 2, "one alert for each message the robot refused")
	}, 20*time.Second, 100*time.Millisecond)
	for _, a := range ops.all() {
		assert.Equal(t, "sos:ORD-CUST-2", a.CaseID)
		assert.Contains(t, a.Text, "DingTalk group")
		assert.NotContains(t, a.Text, gone, "the alert names no token")
	}
	v2 := s.bearer(http.MethodGet, path2, s.manager, nil)
	assert.Contains(t, string(v2.Body), `"stage":"confirmation"`, "the case went on")
	assert.Zero(t, robot.Stats(gone).Delivered)

	// The marketplace changes the channel later; bad input gets a clear answer.
	r := s.signed(http.MethodPut, path2+"/customer-channel", []byte(`{"emails":["new@other.example.cn"]}`))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"case_id":"sos:ORD-CUST-2","channels":["email"]}`, string(r.Body))
	for body, why := range map[string]string{
		`{"dingtalk":{"webhook":"https://evil.example/robot/send?access_token=x"}}`: "DingTalk robot webhook",
		`{"dingtalk":{"webhook":"https://oapi.dingtalk.com/robot/send"}}`:           "access_token",
		`{"emails":["not an address"]}`:                                             "not a valid address",
		`{"slack":"#x"}`:                                                            "unknown field",
	} {
		r := s.signed(http.MethodPut, path2+"/customer-channel", []byte(body))
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", body, r.Body)
		assert.Contains(t, string(r.Body), why)
	}
	assert.Equal(t, http.StatusNotFound, s.signed(http.MethodPut, "/v1/cases/sos:NOPE/customer-channel", []byte(`{}`)).Status)
	assert.Equal(t, http.StatusUnauthorized, s.bearer(http.MethodPut, path2+"/customer-channel", partner, []byte(`{}`)).Status, "the marketplace's, signed")
	ch, err := s.store.GetCustomerChannel(context.Background(), "sos:ORD-CUST-2")
	require.NoError(t, err)
	assert.Equal(t, []string{db.CustomerEmail}, ch.Channels())
	_ = activities.ReportTitle
}
