package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
)

// canned is a method answering body whatever its request, advertising
// encoding for both.
type canned struct {
	encoding string
	body     []byte
}

// cannedMaster serves methods with canned answers, and counts the calls.
func cannedMaster(t *testing.T, methods map[string]canned) (string, *atomic.Int64) {
	t.Helper()
	m := master.New(master.Config{})
	var calls atomic.Int64
	for name, c := range methods {
		require.NoError(t, m.Register(name, master.MethodInfo{IncomingEncoding: c.encoding, ReturningEncoding: c.encoding},
			func(op *master.IOOperator) error {
				calls.Add(1)
				if _, err := op.ReadAll(); err != nil {
					return err
				}
				return op.WriteIOFromBuffer(c.body)
			}))
	}
	return testserve.Serve(t, m).String(), &calls
}

func TestCallOutputFIFO(t *testing.T) {
	d := startDemo(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	// A second name for the FIFO, to release the reader should the tool
	// replace the first.
	spare := filepath.Join(dir, "spare")
	require.NoError(t, os.Link(fifo, spare))
	data := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB: more than a pipe holds
	in := filepath.Join(dir, "in.bin")
	require.NoError(t, os.WriteFile(in, data, 0o600))

	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo) // waits for a writer, reads to EOF
		got <- b
	}()
	r := fastrpc(t, "call", d.addr, "echo", "-d", "@"+in, "-o", fifo)
	select {
	case b := <-got:
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, bytes.Equal(data, b), "the FIFO's reader got the response: %d bytes", len(b))
	case <-time.After(5 * time.Second):
		if f, err := os.OpenFile(spare, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = f.Close()
		}
		<-got
		t.Fatalf("the FIFO's reader got nothing; exit %d: %s", r.code, r.stderr)
	}
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe, fi.Mode().Type(), "still a FIFO")
	assertNoTempFiles(t, dir)
}

func TestCallOutputSymlinkAndMode(t *testing.T) {
	d := startDemo(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.WriteFile(real, []byte("old"), 0o600))
	require.NoError(t, os.Chmod(real, 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink("real", link))

	r := fastrpc(t, "call", d.addr, "echo", "-d", "through the link", "-o", link)
	require.Equal(t, exitOK, r.code, r.stderr)
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode().Type(), "the link is kept")
	target, err := os.Readlink(link)
	require.NoError(t, err)
	assert.Equal(t, "real", target)
	b, err := os.ReadFile(real)
	require.NoError(t, err)
	assert.Equal(t, "through the link", string(b), "the link's target replaced")
	fi, err = os.Stat(real)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the target's mode kept")

	// A regular file keeps its mode; a new one is 0644.
	r = fastrpc(t, "call", d.addr, "echo", "-d", "direct", "-o", real)
	require.Equal(t, exitOK, r.code, r.stderr)
	fi, err = os.Stat(real)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode 0600 kept")
	fresh := filepath.Join(dir, "fresh")
	r = fastrpc(t, "call", d.addr, "echo", "-d", "new", "-o", fresh)
	require.Equal(t, exitOK, r.code, r.stderr)
	fi, err = os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	assertNoTempFiles(t, dir)
}

func TestCallOutputDirectory(t *testing.T) {
	addr, calls := countingMaster(t)
	dir := t.TempDir()
	r := fastrpc(t, "call", addr, "add", "-d", `{"a": 1, "b": 2}`, "-o", dir)
	requireFailure(t, r, exitUsage, "-o "+dir+": is a directory")
	assert.Zero(t, calls.Load(), "nothing was sent")
	r = fastrpc(t, "bench", addr, "add", "-d", `{"a": 1, "b": 2}`, "--html", dir, "-n", "1")
	requireFailure(t, r, exitUsage, "--html "+dir+": is a directory")
	assert.Zero(t, calls.Load(), "nothing was sent")
}

func mustAppend(t *testing.T, c codec.Codec, v any) []byte {
	t.Helper()
	b, err := c.Append(nil, v)
	require.NoError(t, err)
	return b
}

func TestCallShowsResponsesExactly(t *testing.T) {
	cborTag, err := cbor.Marshal(cbor.Tag{Number: 1000, Content: map[string]any{"k": 1}})
	require.NoError(t, err)
	addr, _ := cannedMaster(t, map[string]canned{
		"json":       {"json", []byte(`{"id":9007199254740993,"i64":9223372036854775807,"f":1.50,"html":"<&>"}`)},
		"msgpack":    {"msgpack", mustAppend(t, codec.Msgpack, map[string]any{"u": uint64(1<<64 - 1), "i": int64(-1 << 63), "id": int64(9007199254740993), "b": []byte{1, 2, 3}})},
		"cbor":       {"cbor", mustAppend(t, codec.CBOR, map[string]any{"u": uint64(1<<64 - 1), "i": int64(-1 << 63), "id": int64(9007199254740993), "b": []byte{1, 2, 3}})},
		"intkeys":    {"msgpack", mustAppend(t, codec.Msgpack, map[int]string{1: "one", 2: "two"})},
		"cbortag":    {"cbor", cborTag},
		"collide":    {"msgpack", mustAppend(t, codec.Msgpack, map[any]any{1: "a", "1": "b"})},
		"cborclash":  {"cbor", mustAppend(t, codec.CBOR, map[any]any{uint64(1): "a", "1": "b"})},
		"notjson":    {"json", []byte(`{"a": `)},
		"notmsgpack": {"msgpack", []byte{0xc1}},
		"notcbor":    {"cbor", []byte{0xff, 0xff}},
	})
	r := fastrpc(t, "call", addr, "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "{\n  \"id\": 9007199254740993,\n  \"i64\": 9223372036854775807,\n  \"f\": 1.50,\n  \"html\": \"<&>\"\n}\n", r.stdout)

	want := "{\n  \"b\": \"AQID\",\n  \"i\": -9223372036854775808,\n  \"id\": 9007199254740993,\n  \"u\": 18446744073709551615\n}\n"
	for _, method := range []string{"msgpack", "cbor"} {
		r = fastrpc(t, "call", addr, method)
		require.Equal(t, exitOK, r.code, "%s: %s", method, r.stderr)
		assert.Equal(t, want, r.stdout, method)
	}
	r = fastrpc(t, "call", addr, "intkeys")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "{\n  \"1\": \"one\",\n  \"2\": \"two\"\n}\n", r.stdout)
	r = fastrpc(t, "call", addr, "cbortag")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "{\n  \"tag\": 1000,\n  \"value\": {\n    \"k\": 1\n  }\n}\n", r.stdout)

	for _, method := range []string{"collide", "cborclash"} {
		r = fastrpc(t, "call", addr, method)
		requireFailure(t, r, exitCall, "cannot show it as JSON: two keys print as \"1\"", "use --raw -o FILE")
	}
	for _, method := range []string{"notjson", "notmsgpack", "notcbor"} {
		r = fastrpc(t, "call", addr, method)
		requireFailure(t, r, exitCall, "this tool cannot show it as JSON", "use --raw -o FILE")
	}
}

// Test: waits on -d's input are bounded by --timeout.
func TestCallTimeoutReadingInput(t *testing.T) {
	d := startDemo(t)
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	done := make(chan result, 1)
	start := time.Now()
	go func() { done <- fastrpcIn(t, pr, "call", d.addr, "echo", "-d", "-", "--timeout", "300ms") }()
	select {
	case r := <-done:
		requireFailure(t, r, exitCall, "timed out reading -d - after 300ms")
		assert.Less(t, time.Since(start), 3*time.Second)
	case <-time.After(5 * time.Second):
		_ = pw.Close()
		<-done
		t.Fatal("call waited on stdin past --timeout")
	}

	// A FIFO nobody writes to.
	fifo := filepath.Join(t.TempDir(), "in")
	mkfifo(t, fifo)
	go func() { done <- fastrpc(t, "call", d.addr, "echo", "-d", "@"+fifo, "--timeout", "300ms") }()
	select {
	case r := <-done:
		requireFailure(t, r, exitCall, "timed out reading -d @"+fifo)
	case <-time.After(5 * time.Second):
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			_ = f.Close()
		}
		<-done
		t.Fatal("call waited on -d @FIFO past --timeout")
	}
	// The abandoned open ends once a writer comes.
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// Test: a stdout that does not drain does not hold the command past its
// deadline.
func TestCallTimeoutWritingStdout(t *testing.T) {
	d := startDemo(t)
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pr.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"call", d.addr, "stream", "-d", "10MiB", "--timeout", "500ms"}, strings.NewReader(""), pw, &stderr)
	}()
	select {
	case code := <-done:
		assert.Equal(t, exitCall, code, stderr.String())
		assert.Contains(t, stderr.String(), "timed out after 500ms")
		assert.Less(t, time.Since(start), 3*time.Second)
	case <-time.After(5 * time.Second):
		_ = pr.Close()
		<-done
		t.Fatal("call blocked on stdout past --timeout")
	}
}

func TestBenchTimeoutReadingInput(t *testing.T) {
	d := startDemo(t)
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	done := make(chan result, 1)
	go func() { done <- fastrpcIn(t, pr, "bench", d.addr, "echo", "-d", "-", "-n", "1", "--timeout", "300ms") }()
	select {
	case r := <-done:
		requireFailure(t, r, exitCall, "timed out reading -d - after 300ms")
	case <-time.After(5 * time.Second):
		_ = pw.Close()
		<-done
		t.Fatal("bench waited on stdin past --timeout")
	}
}

// runCancelled runs args and cancels its context, as SIGINT does, after
// wait.
func runCancelled(t *testing.T, wait time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
	time.Sleep(wait)
	cancel()
	select {
	case code := <-done:
		return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	case <-time.After(hangGuard):
		t.Fatalf("%v did not stop when interrupted", args)
	}
	return result{}
}

func TestInterruptedIs130(t *testing.T) {
	d := startDemo(t)
	r := runCancelled(t, 200*time.Millisecond, "call", d.addr, "slow", "-d", "10s")
	requireFailure(t, r, exitInterrupted, "interrupted")
	silent := testserve.Silent(t)
	for _, args := range [][]string{
		{"call", silent, "echo"},
		{"caps", silent},
		{"bench", silent, "echo", "-n", "1"}, // the capabilities lookup
	} {
		r := runCancelled(t, 200*time.Millisecond, args...)
		requireFailure(t, r, exitInterrupted, "interrupted")
	}
	// Stdin that never ends, interrupted.
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"call", d.addr, "echo", "-d", "-"}, pr, io.Discard, &stderr) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitInterrupted, code, stderr.String())
	case <-time.After(hangGuard):
		t.Fatal("not interrupted")
	}
}

func TestCallRequestSizeRefusedBeforeSending(t *testing.T) {
	addr, calls := countingMaster(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "small.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"max_request_size": 100}`), 0o600))
	big := `{"a": 1, "b": 2, "pad": "` + strings.Repeat("x", 200) + `"}`
	r := fastrpc(t, "call", addr, "add", "--config", cfg, "-d", big)
	requireFailure(t, r, exitUsage, "more than the 100", "raise max_request_size in a --config")
	r = fastrpc(t, "bench", addr, "add", "--config", cfg, "-d", big, "-n", "1")
	requireFailure(t, r, exitUsage, "more than the 100", "raise max_request_size in a --config")
	assert.Zero(t, calls.Load(), "nothing was sent")

	// JSON beyond what the tool parses.
	file := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(file, append(append([]byte(`["`), bytes.Repeat([]byte("x"), maxJSONInput)...), `"]`...), 0o600))
	r = fastrpc(t, "call", addr, "add", "-d", "@"+file)
	requireFailure(t, r, exitUsage, "more than the 16 MiB", "--raw -d @FILE")
	assert.Zero(t, calls.Load(), "nothing was sent")
}

func TestMessagesNameTheToolsFlags(t *testing.T) {
	d := startDemo(t)
	r := fastrpc(t, "caps", d.addr, "--tls")
	requireFailure(t, r, exitCall, d.addr+" speaks plain FastRpc, not TLS: drop --tls")
	assert.NotContains(t, r.stderr, "dialer.tcp")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "idle.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"pool": {"module": "mutex", "min_idle": 10}}`), 0o600))
	r = fastrpc(t, "bench", d.addr, "echo", "--config", cfg, "--connections", "2", "-n", "1")
	requireFailure(t, r, exitUsage, "--connections 2 is fewer than the 10 connections", "min_idle")

	// A --timeout longer than the config's dial_timeout bounds connecting.
	silent := testserve.Silent(t)
	cfg = filepath.Join(dir, "dial.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"dial_timeout": "100ms"}`), 0o600))
	start := time.Now()
	r = fastrpc(t, "caps", silent, "--config", cfg, "--timeout", "1500ms")
	requireFailure(t, r, exitCall, "raise --timeout")
	assert.NotContains(t, r.stderr, "DialTimeout")
	assert.Greater(t, time.Since(start), time.Second, "--timeout, not the config's dial_timeout, bounded it")
}
