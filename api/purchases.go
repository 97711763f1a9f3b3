package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
)

// Contact is the customer's contact for the case. It is personal data: kept in the orders table only, never
// in workflow history, search attributes, logs or chat.
type Contact struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// PurchaseInput is the marketplace's purchase callback.
type PurchaseInput struct {
	OrderID     string    `json:"order_id"`
	CustomerID  string    `json:"customer_id"`
	Service     string    `json:"service"`
	Spec        string    `json:"spec"`
	Quantity    int       `json:"quantity"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	PaidAt      time.Time `json:"paid_at"`
	Contact     Contact   `json:"contact"`
	// CustomerChannel, when set, is where the customer hears from the case (PUT
	// /v1/cases/{id}/customer-channel changes it later).
	CustomerChannel *CustomerChannelInput `json:"customer_channel,omitempty"`
}

// maxPaidAtSkew is how far in the future a paid_at may lie (clock skew between marketplace and us).
const maxPaidAtSkew = 5 * time.Minute

// Validate checks a purchase against the catalogue and the clock.
func (p PurchaseInput) Validate(now time.Time) error {
	if err := worker.Validate(p.caseInput()); err != nil {
		return err
	}
	switch {
	case p.PaidAt.After(now.Add(maxPaidAtSkew)):
		return fmt.Errorf("paid_at: %s is in the future", p.PaidAt.Format(time.RFC3339))
	case p.PaidAt.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)):
		return errors.New("paid_at: before 2000")
	case strings.TrimSpace(p.Contact.Name) == "" || utf8.RuneCountInString(p.Contact.Name) > 100:
		return errors.New("contact.name: required, at most 100 characters")
	case p.Contact.Phone == "" && p.Contact.Email == "":
		return errors.New("contact: a phone or an email is required")
	case len(p.Contact.Phone) > 32 || strings.Trim(p.Contact.Phone, "+-0123456789 ()") != "":
		return errors.New("contact.phone: digits, spaces, '+', '-' and parentheses, at most 32")
	}
	if p.CustomerChannel != nil {
		if err := p.CustomerChannel.Validate(); err != nil {
			return err
		}
	}
	if p.Contact.Email != "" {
		if a, err := mail.ParseAddress(p.Contact.Email); err != nil || a.Address != p.Contact.Email || len(p.Contact.Email) > 254 {
			return errors.New("contact.email: not a valid address")
		}
	}
	return nil
}

// order is the order the purchase stores (without its body hash and times); the case starts from it,
// through the same mapping the worker's reconciler uses (worker.CaseInputFromOrder).
func (p PurchaseInput) order() *db.Order {
	caseID := workflows.CaseWorkflowID(p.Service, p.OrderID)
	return &db.Order{
		OrderID: p.OrderID, CustomerID: p.CustomerID, Service: p.Service, Spec: p.Spec, Quantity: p.Quantity,
		AmountCents: p.AmountCents, Currency: p.Currency, PaidAt: p.PaidAt.UTC(),
		Contact: db.Contact{Name: p.Contact.Name, Phone: p.Contact.Phone, Email: p.Contact.Email},
		CaseID:  caseID, WorkflowID: caseID,
	}
}

func (p PurchaseInput) caseInput() workflows.CaseInput {
	return worker.CaseInputFromOrder(p.order(), 0)
}

// bodyHash fingerprints a purchase by its decoded fields, so that the same order re-sent with other
// whitespace or key order is the same purchase.
func (p PurchaseInput) bodyHash() string {
	p.PaidAt = p.PaidAt.UTC()
	b, _ := json.Marshal(p) // a struct of strings and numbers always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// PurchaseResult answers a purchase callback.
type PurchaseResult struct {
	CaseID     string `json:"case_id"`
	WorkflowID string `json:"workflow_id"`
}

func (s *Server) purchase(c echo.Context) error {
	ctx := c.Request().Context()
	var in PurchaseInput
	if err := decodeStrict(c.Get("raw_body").([]byte), &in); err != nil {
		return err
	}
	if err := in.Validate(s.now()); err != nil {
		return problem(CodeInvalid, "%v", err)
	}
	lc, ok := worker.Lifecycles[in.Service]
	if !ok {
		return problem(CodeInvalid, "service: %q is not offered yet", in.Service)
	}
	order := in.order()
	order.BodyHash, order.CreatedAt = in.bodyHash(), s.now().UTC()
	ci := worker.CaseInputFromOrder(order, s.accept)
	// The order and the case's projection row are written in one transaction: the row exists from the
	// start, so the case is listed and access-checked at once, and the workflow keeps it current from
	// then on. A retried callback leaves an existing row alone.
	now := s.now().UTC()
	_, created, err := s.store.PutOrderAndCase(ctx, order, &db.Case{
		CaseID: ci.CaseID, WorkflowID: ci.CaseID, Service: ci.Service, Spec: ci.Spec, Stage: workflows.StageAssignment,
		Status: workflows.StatusOpen, CustomerID: ci.CustomerID, OrderID: ci.OrderID, AmountCents: ci.AmountCents,
		SLAStatus: workflows.SLAOnTrack, OpenedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, db.ErrConflict) {
		return problem(CodeConflict, "order %s was already received with a different body", in.OrderID)
	}
	if err != nil {
		return unavailable(err, "the order store")
	}
	if in.CustomerChannel != nil {
		// Before the workflow starts, so that its first messages find it; a retried callback keeps a channel
		// set since by PUT /v1/cases/{id}/customer-channel.
		ch := in.CustomerChannel.row(ci.CaseID)
		ch.UpdatedAt = now
		if _, err := s.store.PutCustomerChannel(ctx, ch, false); err != nil {
			return unavailable(err, "the case store")
		}
	}
	// Started on every callback, not only the first: a callback whose start failed is completed by the
	// marketplace's retry. An existing case, open or closed, is left as it is.
	_, err = s.temporal.ExecuteWorkflow(ctx, workflows.StartOptions(ci), lc.WorkflowType(), lc.Input(ci))
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &already) {
		return unavailable(err, "the workflow service")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, PurchaseResult{CaseID: ci.CaseID, WorkflowID: ci.CaseID})
}

// decodeStrict decodes one JSON object, refusing anything else (null, an array, a string), unknown fields,
// trailing data, invalid UTF-8 and U+0000, which PostgreSQL's text cannot store (it would be dropped or
// altered there, and kept on SQLite).
func decodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return problem(CodeBadRequest, "request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return problem(CodeBadRequest, "request body is not valid UTF-8")
	}
	if trimmed[0] != '{' {
		return problem(CodeBadRequest, "request body must be a JSON object ({...})")
	}
	if hasNUL(body) {
		return problem(CodeInvalid, "request body holds the character U+0000 (\\u0000), which is never valid in steward's fields; remove it")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return problem(CodeInvalid, "%s: expected %s", te.Field, te.Type)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return problem(CodeInvalid, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return problem(CodeInvalid, "times are RFC 3339, e.g. 2026-01-02T09:00:00+08:00")
		}
		return problem(CodeBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() {
		return problem(CodeBadRequest, "malformed JSON: data after the object")
	}
	return nil
}

// hasNUL reports whether a JSON text holds the escape \u0000 (a raw NUL byte is not valid JSON anyway).
func hasNUL(body []byte) bool {
	esc := []byte(`\u0000`)
	for i := 0; ; {
		j := bytes.Index(body[i:], esc)
		if j < 0 {
			return false
		}
		j += i
		n := 0 // backslashes before this one: an odd number makes it a literal backslash, not an escape
		for k := j - 1; k >= 0 && body[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return true
		}
		i = j + 1
	}
}
