package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// resolveTimeout bounds CheckURL's DNS look-up.
const resolveTimeout = 5 * time.Second

// CheckURL reports why u cannot receive webhooks, or nil: it must be an absolute http or https URL without
// user info, and its host must resolve. Unless allowPrivate, none of the host's addresses may be loopback,
// private (RFC 1918, RFC 4193 and the shared 100.64.0.0/10, where cloud metadata services live),
// link-local, unspecified or multicast. It is checked when a subscription is added and again before each
// send, since DNS may change; the send's dialer refuses such addresses too, so neither a redirect nor a
// rebinding reaches them.
func CheckURL(u string, allowPrivate bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	_, err := checkURL(ctx, net.DefaultResolver, u, allowPrivate)
	return err
}

// checkURL is CheckURL with a context and a resolver; it returns the parsed URL.
func checkURL(ctx context.Context, r *net.Resolver, raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q: only http and https", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("a URL with user info (user:password@) is refused; put credentials in the path or rely on the signature")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !allowPrivate {
			if why := refused(ip); why != "" {
				return nil, privateError(host, ip, why)
			}
		}
		return u, nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("host %s does not resolve", host)
	}
	if !allowPrivate {
		for _, ip := range addrs {
			if why := refused(ip); why != "" {
				return nil, privateError(host, ip, why)
			}
		}
	}
	return u, nil
}

func privateError(host string, ip netip.Addr, why string) error {
	if host == ip.String() {
		return fmt.Errorf("%s is a %s address (allow it with -allow-private)", host, why)
	}
	return fmt.Errorf("host %s resolves to %s, a %s address (allow it with -allow-private)", host, ip, why)
}

var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// refused says which kind of address ip is when a subscription without allowPrivate may not reach it,
// or "".
func refused(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsPrivate(), sharedAddressSpace.Contains(ip):
		return "private"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.Is4() && ip.As4()[0] == 0: // 0.0.0.0/8, "this network"
		return "unspecified"
	}
	return ""
}

// NewTransport is the transport webhooks are sent with: no proxy and, unless allowPrivate, a dialer that
// refuses loopback, private, link-local, unspecified and multicast addresses — checked on the address
// actually dialled, after DNS, so that neither a redirect nor a DNS rebinding reaches them. Subscriptions
// that allow private addresses get a transport of their own, so that no pooled connection is shared
// across the two.
func NewTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, err)
			}
			if why := refused(ap.Addr()); why != "" {
				return fmt.Errorf("refused to connect to %s, a %s address", ap.Addr(), why)
			}
			return nil
		}
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
