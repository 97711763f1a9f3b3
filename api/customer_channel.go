package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
)

// DingTalkRobotHost and DingTalkRobotPath are where DingTalk's custom robots take messages: a customer's
// robot webhook must be one of them, so that steward never posts a customer's messages elsewhere
// (`--dingtalk-api-url` sends every robot call to a proxy or a test peer instead).
const (
	DingTalkRobotHost = "oapi.dingtalk.com"
	DingTalkRobotPath = "/robot/send"
)

// MaxCustomerEmails bounds a customer channel's e-mail recipients.
const MaxCustomerEmails = 10

// CustomerChannelInput is where a case's customer hears from it, in Chinese: their DingTalk group's custom
// robot and e-mail recipients, either or both. It is personal data and a credential: kept in the
// database only (the robot sealed with STEWARD_SECRET_KEY), never in a workflow, a log or a view.
type CustomerChannelInput struct {
	DingTalk *DingTalkRobotInput `json:"dingtalk,omitempty"`
	Emails   []string            `json:"emails,omitempty"`
}

// DingTalkRobotInput is a DingTalk group's custom robot: its webhook (with the access token) and, when
// the robot signs ("加签"), its secret.
type DingTalkRobotInput struct {
	Webhook string `json:"webhook"`
	Secret  string `json:"secret,omitempty"`
}

// CustomerChannelView answers a channel's change: which channels are set, never their addresses.
type CustomerChannelView struct {
	CaseID   string   `json:"case_id"`
	Channels []string `json:"channels"`
}

// Validate checks a customer channel.
func (in *CustomerChannelInput) Validate() error {
	if d := in.DingTalk; d != nil {
		u, err := url.Parse(d.Webhook)
		switch {
		case err != nil || u.Scheme != "https" || u.Host != DingTalkRobotHost || u.Path != DingTalkRobotPath:
			return fmt.Errorf("customer_channel.dingtalk.webhook: a DingTalk robot webhook, https://%s%s?access_token=…", DingTalkRobotHost, DingTalkRobotPath)
		case u.Query().Get("access_token") == "" || len(d.Webhook) > 512:
			return errors.New("customer_channel.dingtalk.webhook: the robot's access_token is missing (or the URL is over 512 characters)")
		case len(d.Secret) > 128 || strings.ContainsAny(d.Secret, " \t\r\n"):
			return errors.New("customer_channel.dingtalk.secret: at most 128 characters, no spaces (the robot's 加签 secret, SEC…)")
		}
	}
	if len(in.Emails) > MaxCustomerEmails {
		return fmt.Errorf("customer_channel.emails: at most %d addresses", MaxCustomerEmails)
	}
	seen := map[string]bool{}
	for _, e := range in.Emails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			return fmt.Errorf("customer_channel.emails: %q is not a valid address", e)
		}
		if seen[strings.ToLower(e)] {
			return fmt.Errorf("customer_channel.emails: %q twice", e)
		}
		seen[strings.ToLower(e)] = true
	}
	return nil
}

func (in *CustomerChannelInput) row(caseID string) *db.CustomerChannel {
	ch := &db.CustomerChannel{CaseID: caseID, Emails: in.Emails}
	if in.DingTalk != nil {
		ch.DingTalkWebhook, ch.DingTalkSecret = in.DingTalk.Webhook, in.DingTalk.Secret
	}
	return ch
}

// putCustomerChannel sets (replaces) the case's customer channel; an empty one removes it. Messages the
// case records from then on go to the channels set; those recorded before keep theirs.
func (s *Server) putCustomerChannel(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	var in CustomerChannelInput
	if err := decodeStrict(c.Get("raw_body").([]byte), &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return problem(CodeInvalid, "%s", strings.TrimPrefix(err.Error(), "customer_channel."))
	}
	ch := in.row(row.CaseID)
	ch.UpdatedAt = s.now().UTC()
	if _, err := s.store.PutCustomerChannel(c.Request().Context(), ch, true); err != nil {
		return unavailable(err, "the case store")
	}
	channels := ch.Channels()
	if channels == nil {
		channels = []string{}
	}
	return c.JSON(http.StatusOK, CustomerChannelView{CaseID: row.CaseID, Channels: channels})
}
