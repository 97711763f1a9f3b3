package reliability

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
