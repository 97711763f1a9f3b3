package reliability

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// PID returns the process ID of the running process, or 0 when it is not running; benchmarks read its
// CPU time and memory from /proc/<pid>.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// DialTemporal connects to the server at hostPort (namespace "default") and waits, up to two minutes,
// until the namespace answers a query on steward's search attributes: then workers and the API can start.
// Like steward's own processes on loopback, it sends requests uncompressed, so the benchmarks' raw SDK
// side and steward talk to the server alike.
func DialTemporal(ctx context.Context, hostPort string) (client.Client, error) {
	var c client.Client
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := WaitFor(rctx, func(ctx context.Context) error {
		var err error
		if c == nil {
			if c, err = client.DialContext(ctx, client.Options{HostPort: hostPort, Namespace: "default", Logger: QuietLogger{},
				ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}}); err != nil {
				return err
			}
		}
		_, err = c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ServiceType = 'sos' AND CaseStage = 'closed'"})
		return err
	})
	if err != nil && c != nil {
		c.Close()
	}
	return c, err
}

// APIReady returns nil once the API at baseURL answers /readyz with 200.
func APIReady(ctx context.Context, baseURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %d", res.StatusCode)
	}
	return nil
}

// QuietLogger drops the SDK client's logs: the battery and the benchmarks report what matters themselves.
type QuietLogger struct{}

func (QuietLogger) Debug(string, ...any) {}
func (QuietLogger) Info(string, ...any)  {}
func (QuietLogger) Warn(string, ...any)  {}
func (QuietLogger) Error(string, ...any) {}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
