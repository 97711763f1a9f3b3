package api

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Limits before authentication. A request that fails authentication — no or an unknown, expired or revoked
// bearer token, a bad or stale marketplace signature — costs a hash and a database read, or an HMAC and a
// write, and spends no credential's budget (the credential rate limit runs after authentication). The
// authLimiter bounds that work per client address: each address may fail at most burst times at once, then
// perSecond times a second; over it, its requests are answered 429 with Retry-After before the body is read,
// a MAC computed or the database asked.
//
// It counts in each API process, in memory, on purpose: a counter shared through the database would cost a
// database round trip on every refused request, the very work it is there to bound. With N API processes
// behind a load balancer an address fails at most N times as often; an operator who wants one figure for the
// whole fleet puts a proxy in front that limits by address (and tells steward to trust it, TrustedProxies).

// authLimitKeys bounds the addresses the limiter remembers. Past it, buckets that have refilled are
// forgotten; if every one is still draining, new addresses share one bucket, so memory and work stay
// bounded however many addresses a flood comes from.
const authLimitKeys = 1 << 16

// overflowKey is the bucket the addresses beyond authLimitKeys share.
const overflowKey = "*"

// authLimiter is a token bucket of authentication failures per client address. Every request takes one
// token on entering authentication and gives it back when it authenticates, so only failures spend the
// budget, and requests in flight count against it: at most burst of an address's requests fail at once,
// perSecond a second after that.
type authLimiter struct {
	perSecond float64
	burst     float64
	clock     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*authBucket
	lastSweep time.Time
}

type authBucket struct {
	tokens float64
	at     time.Time
}

// newAuthLimiter returns a limiter of perSecond failures a second per address in bursts of burst (zero:
// perSecond rounded up, at least 1), or nil — no limit — when perSecond is zero or less.
func newAuthLimiter(perSecond float64, burst int) *authLimiter {
	if perSecond <= 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &authLimiter{perSecond: perSecond, burst: float64(burst), clock: time.Now, buckets: map[string]*authBucket{}}
}

// take spends one token of key's bucket. When none is left it reports false and how long until one is.
func (l *authLimiter) take(key string) (bool, time.Duration) {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
}

// refund gives back the token a request of key took: it authenticated, or failed for another reason
// (the database unavailable, a body too large).
func (l *authLimiter) refund(key string) {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	b.tokens = min(l.burst, b.tokens+1)
}

// bucket is key's bucket refilled to now, made full when new; l.mu is held.
func (l *authLimiter) bucket(key string, now time.Time) *authBucket {
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= authLimitKeys {
			l.sweep(now)
		}
		if len(l.buckets) >= authLimitKeys {
			key = overflowKey
			if b, ok = l.buckets[key]; ok {
				l.refill(b, now)
				return b
			}
		}
		b = &authBucket{tokens: l.burst, at: now}
		l.buckets[key] = b
		return b
	}
	l.refill(b, now)
	return b
}

func (l *authLimiter) refill(b *authBucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSecond)
		b.at = now
	}
}

// sweep forgets the buckets that have refilled: a full bucket is what a new address gets. It runs at most
// once a second, so a flood of new addresses costs one pass over the map a second, not one per request.
func (l *authLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// clientKey is the address a request is counted against: its client's IP (Echo's IPExtractor: the peer's
// address, or the X-Forwarded-For entry a trusted proxy added), an IPv6 address by its /64, which one
// subscriber usually holds whole.
func clientKey(c echo.Context) string {
	ip := c.RealIP()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// Context keys of the limiter's state of one request.
const (
	preAuthKey = "auth_limit_key"
	authedKey  = "auth_limit_refunded"
)

// preAuth runs before authentication: a client address over its failure budget is answered 429 with
// Retry-After at once. The request's token is given back when it authenticates (authenticated) or ends in
// anything but an authentication failure.
func (s *Server) preAuth(next echo.HandlerFunc) echo.HandlerFunc {
	if s.authLimit == nil {
		return next
	}
	return func(c echo.Context) error {
		key := clientKey(c)
		ok, wait := s.authLimit.take(key)
		if !ok {
			retry := strconv.FormatFloat(math.Max(1, math.Ceil(wait.Seconds())), 'f', 0, 64)
			c.Response().Header().Set("Retry-After", retry)
			return problem(CodeRateLimited, "too many requests from this address failed authentication; retry after %s s", retry)
		}
		c.Set(preAuthKey, key)
		err := next(c)
		if refunded, _ := c.Get(authedKey).(bool); !refunded && !authFailure(c, err) {
			s.authLimit.refund(key)
		}
		return err
	}
}

// authenticated gives back the token preAuth took for the request: it carries a valid credential.
func (s *Server) authenticated(c echo.Context) {
	key, ok := c.Get(preAuthKey).(string)
	if !ok || s.authLimit == nil {
		return
	}
	if refunded, _ := c.Get(authedKey).(bool); refunded {
		return
	}
	s.authLimit.refund(key)
	c.Set(authedKey, true)
}

// authFailureCodes are the problems of a request refused for its credential.
var authFailureCodes = []string{CodeUnauthorized, CodeTokenExpired, CodeTokenRevoked, CodePartnerDisabled}

// authFailure reports whether a request ended refused for its credential: a 401 problem, or a 401 page
// (the reports' sign-in form).
func authFailure(c echo.Context, err error) bool {
	var e *Error
	if errors.As(err, &e) {
		for _, code := range authFailureCodes {
			if e.Code == code {
				return true
			}
		}
		return false
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code == http.StatusUnauthorized
	}
	return err == nil && c.Response().Status == http.StatusUnauthorized
}
