package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
)

// The API's default rate limit per credential: enough for a partner's tooling and the marketplace's retries
// in bursts, not enough for one credential to keep the API and the workflow service busy.
const (
	defaultRateLimit = 20
	defaultRateBurst = 40
)

// rateLimit is the API's request budget per credential (api.Config RateLimit and RateBurst).
type rateLimit struct {
	perSecond float64
	burst     int
	envErr    error
}

func (r *rateLimit) register(f flags) {
	def := float64(defaultRateLimit)
	if v, ok := os.LookupEnv("STEWARD_RATE_LIMIT"); ok {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			r.envErr = fmt.Errorf("STEWARD_RATE_LIMIT=%q: not a number of requests a second", v)
		} else {
			def = n
		}
	}
	f.Float64Var(&r.perSecond, "rate-limit", def, "requests a second each credential may make: each bearer token (partner engineer, manager) "+
		"on its own, the marketplace's signed calls together; over it the API answers 429 with Retry-After; 0 turns the limit off ($STEWARD_RATE_LIMIT)")
	f.int(&r.burst, "rate-burst", "STEWARD_RATE_BURST", defaultRateBurst, "requests a credential may make at once before -rate-limit applies")
}

// validate reports a bad rate limit after the flags are parsed.
func (r *rateLimit) validate() error {
	switch {
	case r.envErr != nil:
		return r.envErr
	case r.perSecond < 0 || math.IsNaN(r.perSecond) || math.IsInf(r.perSecond, 0):
		return errors.New("-rate-limit: requests a second, 0 or more (0 turns the limit off)")
	case r.burst < 0:
		return errors.New("-rate-burst: 0 or more (0: the rate rounded up)")
	}
	return nil
}
