//go:build !linux

package conn

// unsent is not available here: progress inside a blocked write is seen
// only when the write returns.
func (p *prober) unsent() (int, bool) { return 0, false }
