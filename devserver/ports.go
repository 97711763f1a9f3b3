package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// internalIP is where the services other than the frontend listen, and the address every service
// broadcasts to the others: localhost, unless the frontend is bound to one specific other address
// (then 127.0.0.1 would not reach the frontend's membership port).
func internalIP(frontendIP string) string {
	ip := net.ParseIP(frontendIP)
	if ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return frontendIP
}

// ports are the listening ports of one server.
type ports struct {
	frontend, ui              int
	history, matching, worker int
	membership                [4]int // frontend, history, matching, worker
}

// reservePorts checks that the requested ports are free and picks free ones where asked
// (PickFreePort) and for the internal services. All probe listeners stay open until every port is
// chosen, so no port is handed out twice; they are closed before the servers bind. A port taken by
// someone else in between is still possible, as with any listen-close-reuse scheme.
func reservePorts(o Options) (ports, error) {
	var (
		p         ports
		listeners []net.Listener
		err       error
	)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	take := func(name, ip string, port int) int {
		if err != nil {
			return 0
		}
		want := port
		if port == PickFreePort {
			port = 0
		}
		l, lerr := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if lerr != nil {
			if want == PickFreePort {
				err = fmt.Errorf("devserver: pick a free %s port on %s: %w", name, ip, lerr)
			} else {
				err = fmt.Errorf("devserver: %s port %d on %s is not available: %w", name, want, ip, lerr)
			}
			return 0
		}
		listeners = append(listeners, l)
		return l.Addr().(*net.TCPAddr).Port
	}

	p.frontend = take("frontend", o.IP, o.FrontendPort)
	if o.UIPort != 0 {
		p.ui = take("UI", o.IP, o.UIPort)
	}
	internal := internalIP(o.IP)
	p.history = take("history", internal, PickFreePort)
	p.matching = take("matching", internal, PickFreePort)
	p.worker = take("worker", internal, PickFreePort)
	p.membership[0] = take("frontend membership", o.IP, PickFreePort)
	for i := 1; i < len(p.membership); i++ {
		p.membership[i] = take("membership", internal, PickFreePort)
	}
	if err != nil {
		return ports{}, err
	}
	if p.ui != 0 && p.ui == p.frontend {
		return ports{}, errors.New("devserver: UI port and frontend port must differ")
	}
	return p, nil
}
