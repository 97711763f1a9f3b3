package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on free text in steps.
const (
	// MaxText bounds a text field, in characters.
	MaxText = 4000
	// MaxItems bounds a list field.
	MaxItems = 100
)

// CheckText checks a free-text field: present when required, at most MaxText characters.
func CheckText(field, s string, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s: required", field)
	}
	if utf8.RuneCountInString(s) > MaxText {
		return fmt.Errorf("%s: at most %d characters", field, MaxText)
	}
	return nil
}

// CheckList checks a list of free-text items: at least one when required, at most MaxItems, each CheckText.
func CheckList(field string, items []string, required bool) error {
	if required && len(items) == 0 {
		return fmt.Errorf("%s: at least one item", field)
	}
	if len(items) > MaxItems {
		return fmt.Errorf("%s: at most %d items", field, MaxItems)
	}
	for i, it := range items {
		if err := CheckText(fmt.Sprintf("%s[%d]", field, i), it, true); err != nil {
			return err
		}
	}
	return nil
}

// DeclineInput is a partner declining an offered case.
type DeclineInput struct {
	Reason string `json:"reason"`
}

// Validate checks the decline's fields.
func (d DeclineInput) Validate() error { return CheckText("reason", d.Reason, false) }

// CancelInput is the customer's cancellation.
type CancelInput struct {
	Reason string `json:"reason"`
}

// Validate checks the cancellation's fields.
func (c CancelInput) Validate() error { return CheckText("reason", c.Reason, false) }

// CloseInput closes a case: the follow-up of results.
type CloseInput struct {
	FollowUp string `json:"follow_up"`
	// FollowUpUntil is the last day of the follow-up (YYYY-MM-DD, Beijing date), when the partner sets one.
	FollowUpUntil string `json:"follow_up_until,omitempty"`
}

// Validate checks the close's fields.
func (c CloseInput) Validate() error {
	if err := CheckText("follow_up", c.FollowUp, true); err != nil {
		return err
	}
	if c.FollowUpUntil != "" {
		if _, err := time.Parse(time.DateOnly, c.FollowUpUntil); err != nil {
			return fmt.Errorf("follow_up_until: a date (YYYY-MM-DD), not %q", c.FollowUpUntil)
		}
	}
	return nil
}

// Until is "; until DATE" for a follow-up that sets its last day, and nothing otherwise.
func Until(date string) string {
	if date == "" {
		return ""
	}
	return "; until " + date
}

// StrictJSON decodes a step payload, refusing unknown fields.
func StrictJSON(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	// Decoding into a struct gives the same value on every replay; the checker flags encoding/json only
	// because it can also decode into maps.
	dec := json.NewDecoder(bytes.NewReader(raw)) //workflowcheck:ignore
	dec.DisallowUnknownFields()
	//workflowcheck:ignore
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	return nil
}

// DecodeValid decodes a step payload into T and validates it, refusing it as RejectInvalid.
func DecodeValid[T interface{ Validate() error }](raw json.RawMessage) error {
	var v T
	if err := StrictJSON(raw, &v); err != nil {
		return Invalidf("%v", err)
	}
	if err := v.Validate(); err != nil {
		return Invalidf("%v", err)
	}
	return nil
}

// MustDecode decodes a payload the validator has already accepted.
func MustDecode[T any](raw json.RawMessage) T {
	var v T
	_ = StrictJSON(raw, &v) // validated before the handler runs
	return v
}

// JoinList joins items for a timeline line.
func JoinList(items []string) string { return strings.Join(items, "; ") }

// OrDash is s, or a dash when it is empty.
func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// MaxStepDelay bounds how far before its processing a step's receipt time may count: a step that waited
// in the task backlog counts from when the API received it, but an API clock far behind counts for nothing.
const MaxStepDelay = 2 * time.Minute

// StepInstant is the contract instant of a step: when the API received it, within MaxStepDelay of now.
func StepInstant(in StepInput, now time.Time) time.Time {
	if in.At.IsZero() || in.At.After(now) || now.Sub(in.At) > MaxStepDelay {
		return now
	}
	return in.At
}
