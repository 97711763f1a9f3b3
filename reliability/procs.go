// Package reliability is steward's fault battery: it runs the Temporal server, the worker and the API as
// separate `steward` processes, drives SOS cases through the HTTP API with partner bots, and meanwhile kills
// and restarts processes, restarts PostgreSQL and makes Slack fail, then checks that every case ended as
// expected with nothing lost or doubled. `make reliability` runs it in full and rewrites
// docs/reliability.md; CI runs a short version.
package reliability

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Proc is one steward process that can be killed and started again with the same arguments.
type Proc struct {
	Name string
	Bin  string
	Args []string
	Env  []string
	Log  string // file the process's output is appended to

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
	kills  int
}

// Start runs the process; it is an error to start a running one.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is running", p.Name)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n=== start %d at %s\n", p.starts+1, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a kill reaches nothing else; and killed with the battery if the battery dies
	// (a timed-out test), so no steward process outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	p.starts++
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, true) }

// Stop sends SIGTERM and waits up to 30 s, then kills.
func (p *Proc) Stop() { p.signal(syscall.SIGTERM, false) }

func (p *Proc) signal(sig syscall.Signal, counted bool) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	if counted && cmd != nil {
		p.kills++
	}
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Counts returns how often the process was started and killed.
func (p *Proc) Counts() (starts, kills int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.kills
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now, from 20000 up and below the kernel's
// ephemeral range. The tests bind such a port later (a server started after its clients), and again after a
// SIGKILL; a port in the ephemeral range (32768-60999 by default, what a listen on port 0 returns) can meanwhile
// become the source port of any outgoing connection on the machine, and the bind fails with "address already in
// use". Below 32768 also suits the Temporal server's membership ports, which it keeps in a smallint column.
func FreePort() (int, error) {
	limit := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var low, high int
		if _, err := fmt.Sscan(string(b), &low, &high); err == nil && low > 20100 && low < limit {
			limit = low
		}
	}
	for range 200 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(limit-20000)))
		if err != nil {
			return 0, err
		}
		p := 20000 + int(n.Int64())
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			_ = ln.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port from 20000 to %d", limit)
}

// WaitFor polls ready every 100 ms until it returns nil or ctx ends; the last error is returned then.
func WaitFor(ctx context.Context, ready func(context.Context) error) error {
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// BuildSteward builds cmd/steward into dir, unless bin names an existing binary.
func BuildSteward(ctx context.Context, bin, dir string) (string, error) {
	if bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("steward binary: %w", err)
		}
		return abs, nil
	}
	out := filepath.Join(dir, "steward")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/steward-oss/steward/cmd/steward")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return out, nil
}
