package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildBinary builds this command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "fastrpc")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startServe starts serve, a `fastrpc serve` command, and returns the
// address from its first line on stderr and a reader of the rest.
func startServe(t *testing.T, serve *exec.Cmd) (string, *bufio.Reader) {
	t.Helper()
	stderr, err := serve.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, serve.Start())
	br := bufio.NewReader(stderr)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line: %q", line)
	return addr, br
}

// TestBinary runs the real binary: serve until SIGINT, caps and call
// against it, and --help.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()

	serve := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0")
	addr, br := startServe(t, serve)
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(br)
		rest <- string(b)
	}()

	out, err := exec.CommandContext(ctx, bin, "caps", addr, "--json").Output()
	require.NoError(t, err)
	var list []capability
	require.NoError(t, json.Unmarshal(out, &list))
	assert.Len(t, list, 8)

	out, err = exec.CommandContext(ctx, bin, "call", addr, "add", "-d", `{"a": 1, "b": 2}`).Output()
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"sum\": 3\n}\n", string(out))

	// Exit codes as a script sees them.
	err = exec.CommandContext(ctx, bin, "call", addr, "nope").Run()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, exitRemote, ee.ExitCode())
	err = exec.CommandContext(ctx, bin, "call", addr, "slow", "--timeout", "100ms").Run()
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, exitCall, ee.ExitCode())

	// Ctrl-C: a graceful shutdown, status 0.
	require.NoError(t, serve.Process.Signal(syscall.SIGINT))
	log := <-rest
	require.NoError(t, serve.Wait(), "serve after SIGINT; stderr: %s", log)
	assert.Equal(t, 0, serve.ProcessState.ExitCode())
	assert.Contains(t, log, "shutting down")
	assert.True(t, strings.HasSuffix(log, "stopped\n"), log)

	// SIGTERM too.
	serve = exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0")
	_, br = startServe(t, serve)
	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	b, _ := io.ReadAll(br)
	require.NoError(t, serve.Wait(), "serve after SIGTERM; stderr: %s", b)

	// --help lists every flag of every command.
	out, err = exec.CommandContext(ctx, bin, "--help").Output()
	require.NoError(t, err)
	for name, flags := range everyFlag() {
		assert.Contains(t, string(out), "fastrpc "+name+" [flags]")
		for _, f := range flags {
			assert.Contains(t, string(out), "    "+f+" ", "%s %s", name, f)
		}
	}
	// No arguments: usage on stderr, status 2.
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stderr = io.Discard
	err = cmd.Run()
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, exitUsage, ee.ExitCode())
	_ = os.Remove(bin)
}

// TestBinarySecondInterrupt: a serve started with SIGINT ignored (a
// script's background job) still stops at once on a second SIGINT.
func TestBinarySecondInterrupt(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	serve := exec.CommandContext(ctx, "/bin/sh", "-c", `trap "" INT; exec "$0" serve --addr 127.0.0.1:0`, bin)
	addr, br := startServe(t, serve)
	go func() { _, _ = io.Copy(io.Discard, br) }()

	// A call in flight, which the graceful shutdown would wait for.
	slow := exec.CommandContext(ctx, bin, "call", addr, "slow", "-d", "15s", "--timeout", "15s")
	require.NoError(t, slow.Start())
	defer func() { _ = slow.Wait() }()
	time.Sleep(300 * time.Millisecond)

	require.NoError(t, serve.Process.Signal(syscall.SIGINT))
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, serve.Process.Signal(syscall.SIGINT))
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	select {
	case <-exited:
		assert.Equal(t, exitInterrupted, serve.ProcessState.ExitCode())
	case <-time.After(3 * time.Second):
		_ = serve.Process.Kill()
		<-exited
		t.Fatal("serve did not stop at the second SIGINT")
	}
}
