package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// The API's default rate limit per credential: enough for a partner's tooling and the marketplace's retries
// in bursts, not enough for one credential to keep the API and the workflow service busy.
const (
	defaultRateLimit = 20
	defaultRateBurst = 40
)

// The API's default bound on failed authentication per client address: a client with a mistyped or expired
// token sees its errors, then 429s; a flood of bad tokens or signatures from one address costs each API
// process at most 40 hash-and-read (or MAC-and-write) checks at once and one a second after.
const (
	defaultAuthFailureLimit = 1
	defaultAuthFailureBurst = 40
)

// rateLimit is the API's request budget per credential (api.Config RateLimit and RateBurst), the bound on
// failed authentication per client address (AuthFailureLimit, AuthFailureBurst) and the proxies trusted to
// name the client address (TrustedProxies).
type rateLimit struct {
	perSecond float64
	burst     int
	envErr    error

	authPerSecond float64
	authBurst     int
	authEnvErr    error
	proxiesFlag   string
	proxies       []netip.Prefix
}

func (r *rateLimit) register(f flags) {
	def, err := envFloat("STEWARD_RATE_LIMIT", defaultRateLimit)
	r.envErr = err
	f.Float64Var(&r.perSecond, "rate-limit", def, "requests a second each credential may make: each bearer token (partner engineer, manager) "+
		"on its own, the marketplace's signed calls together; over it the API answers 429 with Retry-After; 0 turns the limit off ($STEWARD_RATE_LIMIT)")
	f.int(&r.burst, "rate-burst", "STEWARD_RATE_BURST", defaultRateBurst, "requests a credential may make at once before -rate-limit applies")
	def, err = envFloat("STEWARD_AUTH_FAILURE_LIMIT", defaultAuthFailureLimit)
	r.authEnvErr = err
	f.Float64Var(&r.authPerSecond, "auth-failure-limit", def, "requests a second each client address may fail authentication with "+
		"(an unknown, expired or revoked token, a bad signature) once -auth-failure-burst is spent; over it the API answers 429 with Retry-After "+
		"before checking the credential; counted in each API process; 0 turns the limit off ($STEWARD_AUTH_FAILURE_LIMIT)")
	f.int(&r.authBurst, "auth-failure-burst", "STEWARD_AUTH_FAILURE_BURST", defaultAuthFailureBurst, "requests of a client address that may fail authentication at once before -auth-failure-limit applies")
	f.str(&r.proxiesFlag, "trusted-proxies", "STEWARD_TRUSTED_PROXIES", "", "comma-separated addresses or CIDR prefixes of the proxies in front of the API, "+
		"whose X-Forwarded-For names the client address; without any, the client address is the connection's peer")
}

func envFloat(env string, def float64) (float64, error) {
	v, ok := os.LookupEnv(env)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return def, fmt.Errorf("%s=%q: not a number of requests a second", env, v)
	}
	return n, nil
}

// validate reports a bad rate limit after the flags are parsed, and reads the trusted proxies.
func (r *rateLimit) validate() error {
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case r.envErr != nil:
		return r.envErr
	case r.authEnvErr != nil:
		return r.authEnvErr
	case bad(r.perSecond):
		return errors.New("-rate-limit: requests a second, 0 or more (0 turns the limit off)")
	case r.burst < 0:
		return errors.New("-rate-burst: 0 or more (0: the rate rounded up)")
	case bad(r.authPerSecond):
		return errors.New("-auth-failure-limit: requests a second, 0 or more (0 turns the limit off)")
	case r.authBurst < 0:
		return errors.New("-auth-failure-burst: 0 or more (0: the rate rounded up)")
	}
	r.proxies = nil
	for _, s := range strings.Split(r.proxiesFlag, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("-trusted-proxies: %q is neither an address nor a CIDR prefix", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.proxies = append(r.proxies, p)
	}
	return nil
}
