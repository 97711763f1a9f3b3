package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
)

// redeliver sends a webhook delivery again (a manager's call, as `steward webhooks redeliver ID`): it goes
// back to pending, due now, with the same event and so the same event id. 202 with the delivery; an
// unknown id is 404, a delivery whose subscription is disabled 409.
func (s *Server) redeliver(c echo.Context) error {
	id := c.Param("id")
	if !validHexID(id, "whd_") {
		return problem(CodeNotFound, "no webhook delivery %q", id)
	}
	d, err := s.store.RedeliverDelivery(c.Request().Context(), id, s.now())
	switch {
	case errors.Is(err, db.ErrNotFound):
		return problem(CodeNotFound, "no webhook delivery %q", id)
	case errors.Is(err, db.ErrConflict):
		return problem(CodeConflict, "%s", strings.TrimSuffix(err.Error(), ": "+db.ErrConflict.Error()))
	case err != nil:
		return unavailable(err, "the webhook store")
	}
	return c.JSON(http.StatusAccepted, d)
}
