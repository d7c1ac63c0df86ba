//go:build !unix

package main

import "testing"

// mkfifo skips: this system has no named pipes in the file system.
func mkfifo(t *testing.T, _ string) {
	t.Skip("no FIFOs on this system")
}
