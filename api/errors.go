package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Error codes, each a stable problem type.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalid          = "invalid"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Codes of a bearer token refused for what it is, each answered 401 like CodeUnauthorized (an unknown or
// missing credential), so a client can tell a token to renew from one to fix.
const (
	// CodeTokenExpired: the token's validity ended (a rotated token's, at the end of its grace period).
	CodeTokenExpired = "token_expired"
	// CodeTokenRevoked: the token was revoked.
	CodeTokenRevoked = "token_revoked"
	// CodePartnerDisabled: the token's partner company is disabled.
	CodePartnerDisabled = "partner_disabled"
)

// problemStatus is the one table from error code to HTTP status.
var problemStatus = map[string]int{
	CodeBadRequest:       http.StatusBadRequest,
	CodeInvalid:          http.StatusUnprocessableEntity,
	CodeUnauthorized:     http.StatusUnauthorized,
	CodeTokenExpired:     http.StatusUnauthorized,
	CodeTokenRevoked:     http.StatusUnauthorized,
	CodePartnerDisabled:  http.StatusUnauthorized,
	CodeForbidden:        http.StatusForbidden,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeConflict:         http.StatusConflict,
	CodeTooLarge:         http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	CodeRateLimited:      http.StatusTooManyRequests,
	CodeUnavailable:      http.StatusServiceUnavailable,
	CodeInternal:         http.StatusInternalServerError,
}

// ProblemTypeBase prefixes every problem's type; the code follows it.
const ProblemTypeBase = "https://steward.dev/problems/"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Code is the short form of Type.
	Code string `json:"code"`
}

// Error is an error the API answers with a problem document of its Code.
type Error struct {
	Code   string
	Detail string
	Err    error // the cause, logged for internal errors only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Detail + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

func problem(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func internal(err error, what string) *Error {
	return &Error{Code: CodeInternal, Detail: "internal error while " + what, Err: err}
}

func unavailable(err error, what string) *Error {
	return &Error{Code: CodeUnavailable, Detail: what + " is unavailable; retry later", Err: err}
}

// errorHandler answers every error as problem+json; only 5xx errors are logged, with their cause.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &he):
		e = fromHTTPError(he)
	default:
		e = internal(err, "handling the request")
	}
	status, ok := problemStatus[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if status >= 500 {
		s.logger.ErrorContext(c.Request().Context(), "request failed",
			slog.String("code", e.Code), slog.String("request_id", rid), slog.String("path", c.Path()), slog.Any("error", err))
	}
	p := Problem{
		Type: ProblemTypeBase + e.Code, Title: http.StatusText(status), Status: status, Code: e.Code,
		Detail: e.Detail, Instance: c.Request().URL.Path, RequestID: rid,
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	c.Response().WriteHeader(status)
	_ = jsonEncode(c.Response(), p)
}

func fromHTTPError(he *echo.HTTPError) *Error {
	msg := fmt.Sprint(he.Message)
	switch he.Code {
	case http.StatusNotFound:
		return problem(CodeNotFound, "no such resource")
	case http.StatusMethodNotAllowed:
		return problem(CodeMethodNotAllowed, "method not allowed on this resource")
	case http.StatusRequestEntityTooLarge:
		return problem(CodeTooLarge, "request body exceeds the limit of %s", bodyLimit)
	case http.StatusUnsupportedMediaType:
		return problem(CodeUnsupportedMedia, "send application/json")
	case http.StatusUnauthorized:
		return problem(CodeUnauthorized, "%s", msg)
	case http.StatusTooManyRequests:
		return problem(CodeRateLimited, "too many requests; slow down")
	case http.StatusBadRequest:
		return problem(CodeBadRequest, "%s", msg)
	}
	if he.Code >= 400 && he.Code < 500 {
		return &Error{Code: CodeBadRequest, Detail: msg}
	}
	return internal(he, "handling the request")
}
