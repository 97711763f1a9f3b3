package notifications

import (
	"errors"
	"regexp"
)

// ErrPermanent marks a delivery that can never succeed as it is: a Slack channel that does not exist or that
// the bot is not in, a revoked token, an address the mail server refuses with a 5xx reply. Retrying it only
// keeps a case waiting, so the caller gives up and tells operations. Test for it with Permanent; Reason
// says why in words fit to store and show.
var ErrPermanent = errors.New("permanent delivery failure")

// Permanent reports whether err, or an error it wraps, is a permanent delivery failure. A rate limit, a
// server error (5xx from Slack, 4xx from a mail server), a timeout or a broken connection is not.
func Permanent(err error) bool { return errors.Is(err, ErrPermanent) }

// Undeliverable marks err as a permanent delivery failure. reason is a short text for operators, with no
// secret and no personal data ("slack channel_not_found", "smtp recipient 2 of 3 refused: 550 5.1.1").
func Undeliverable(reason string, err error) error {
	if err == nil {
		err = errors.New(reason)
	}
	return &undeliverable{reason: reason, err: err}
}

type undeliverable struct {
	reason string
	err    error
}

func (e *undeliverable) Error() string   { return e.err.Error() }
func (e *undeliverable) Unwrap() []error { return []error{ErrPermanent, e.err} }

// permanentSentinel is a sentinel error that is also permanent (errors.Is(err, ErrPermanent) holds).
type permanentSentinel struct{ msg string }

func (e *permanentSentinel) Error() string        { return e.msg }
func (e *permanentSentinel) Is(target error) bool { return target == ErrPermanent }

// maxReasonLen bounds a failure reason, which is stored and posted to the operations channel.
const maxReasonLen = 300

// Reason says why err failed, briefly and fit to store and show to operators: the reason a permanent
// failure was marked with, else err's text. Either way e-mail addresses and Slack tokens are masked and
// the text is cut to a few hundred characters. It is "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	var u *undeliverable
	if errors.As(err, &u) {
		s = u.reason
	}
	return truncate(Redact(s), maxReasonLen)
}

var (
	addressPattern    = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+`)
	slackTokenPattern = regexp.MustCompile(`\bx(ox[abeprs]|app)-[A-Za-z0-9\-]+`)
)

// Redact masks e-mail addresses (personal data) and Slack tokens (secrets) in s, for text that is stored
// or posted where the recipient's details have no business: a failure reason, an alert.
func Redact(s string) string {
	s = slackTokenPattern.ReplaceAllString(s, "[token]")
	return addressPattern.ReplaceAllString(s, "[address]")
}
