package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/internal/testserve"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/typed"
)

// decodeJSON parses a command's stdout.
func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &v), "stdout: %s", s)
	return v
}

func TestCallCodecMethods(t *testing.T) {
	d := startDemo(t)
	for _, tc := range []struct {
		method, data string
		want         map[string]any
	}{
		{"add", `{"a": 1, "b": 2}`, map[string]any{"sum": 3.0}},
		{"add", `{"a": -9000000000000, "b": 1}`, map[string]any{"sum": -8999999999999.0}},
		{"stats", `{"values": [1, 2.5, 4]}`, map[string]any{"count": 3.0, "sum": 7.5, "mean": 2.5, "min": 1.0, "max": 4.0}},
		{"greet", `{"name": "Ada"}`, map[string]any{"greeting": "hello, Ada"}},
	} {
		r := fastrpc(t, "call", d.addr, tc.method, "-d", tc.data)
		require.Equal(t, exitOK, r.code, "%s %s: %s", tc.method, tc.data, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Equal(t, tc.want, decodeJSON(t, r.stdout), tc.method)
		assert.True(t, strings.HasPrefix(r.stdout, "{\n  \""), "indented: %q", r.stdout)
	}
	// No -d is JSON null: the zero request.
	r := fastrpc(t, "call", d.addr, "add")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, map[string]any{"sum": 0.0}, decodeJSON(t, r.stdout))
	// JSON from a file and from stdin.
	file := filepath.Join(t.TempDir(), "req.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"a": 20, "b": 22}`), 0o600))
	r = fastrpc(t, "call", d.addr, "add", "-d", "@"+file)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, map[string]any{"sum": 42.0}, decodeJSON(t, r.stdout))
	r = fastrpcIn(t, strings.NewReader(`{"a": 2, "b": 3}`), "call", d.addr, "add", "-d", "-")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, map[string]any{"sum": 5.0}, decodeJSON(t, r.stdout))
	// --raw sends the bytes as they are: msgpack made by hand.
	req, err := codec.Msgpack.Append(nil, AddRequest{A: 4, B: 5})
	require.NoError(t, err)
	r = fastrpc(t, "call", d.addr, "add", "--raw", "-d", string(req))
	require.Equal(t, exitOK, r.code, r.stderr)
	var resp AddResponse
	require.NoError(t, codec.Msgpack.Unmarshal([]byte(r.stdout), &resp))
	assert.Equal(t, int64(9), resp.Sum)
}

func TestCallRawMethods(t *testing.T) {
	d := startDemo(t)
	r := fastrpc(t, "call", d.addr, "echo", "-d", "hello, master")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "hello, master", r.stdout, "bytes out unchanged, no newline added")

	r = fastrpc(t, "call", d.addr, "echo")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout)

	// Binary data through a file, and through stdin (a pipe: read into
	// memory) and a regular file as stdin (streamed).
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	file := filepath.Join(t.TempDir(), "data.bin")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	r = fastrpc(t, "call", d.addr, "echo", "-d", "@"+file)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, bytes.Equal(data, []byte(r.stdout)), "echo of @FILE")

	r = fastrpcIn(t, bytes.NewReader(data), "call", d.addr, "echo", "-d", "-")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, bytes.Equal(data, []byte(r.stdout)), "echo of stdin")

	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Seek(1000, io.SeekStart) // from stdin's current offset, like a shell's "<"
	require.NoError(t, err)
	r = fastrpcIn(t, f, "call", d.addr, "sha256", "-d", "-")
	require.Equal(t, exitOK, r.code, r.stderr)
	sum := sha256.Sum256(data[1000:])
	assert.Equal(t, hex.EncodeToString(sum[:])+"\n", r.stdout)

	r = fastrpc(t, "call", d.addr, "slow", "-d", "10ms")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "waited 10ms\n", r.stdout)
}

func TestCallApplicationError(t *testing.T) {
	d := startDemo(t)
	r := fastrpc(t, "call", d.addr, "greet", "-d", `{"name": ""}`)
	requireFailure(t, r, exitRemote, `method "greet" answered with an error (code 400): name is empty`)

	r = fastrpc(t, "call", d.addr, "stream", "-d", "lots")
	requireFailure(t, r, exitRemote, `method "stream" answered with an error (code 400)`, `got "lots"`)
}

func TestCallUnknownMethod(t *testing.T) {
	d := startDemo(t)
	for _, args := range [][]string{
		{"call", d.addr, "nope"},          // found missing in the capabilities
		{"call", d.addr, "nope", "--raw"}, // answered by the master
	} {
		r := fastrpc(t, args...)
		requireFailure(t, r, exitRemote, `master has no method "nope"; run "fastrpc caps `+d.addr+`" for the list`)
	}
}

// countingMaster serves "add" (msgpack) and counts the calls its handler
// gets.
func countingMaster(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	m := master.New(master.Config{})
	var calls atomic.Int64
	require.NoError(t, typed.Register(m, "add", codec.Msgpack, func(ctx context.Context, r AddRequest) (AddResponse, error) {
		calls.Add(1)
		return add(ctx, r)
	}))
	return testserve.Serve(t, m).String(), &calls
}

func TestCallJSONThatDoesNotFit(t *testing.T) {
	addr, calls := countingMaster(t)
	// Not JSON: refused before anything is sent, as a usage error.
	for _, tc := range []struct{ data, why string }{
		{`{"a": 1,`, "the JSON ends early"},
		{`{"a": x}`, "invalid character 'x' looking for beginning of value (at byte 7)"},
		{`{"a": 1} {"b": 2}`, "more than one JSON value"},
		{`{"a": 123456789012345678901234567890}`, "the integer 123456789012345678901234567890 does not fit in 64 bits"},
	} {
		r := fastrpc(t, "call", addr, "add", "-d", tc.data)
		requireFailure(t, r, exitUsage, `method "add" takes msgpack: the JSON given does not fit: `+tc.why, "--raw")
	}
	assert.Zero(t, calls.Load(), "nothing was sent")

	// JSON, but not of the method's type: the master refuses it.
	r := fastrpc(t, "call", addr, "add", "-d", `{"a": "one"}`)
	requireFailure(t, r, exitRemote, `method "add" answered with an error (code 4294967041, typed.CodeBadRequest`,
		"cannot decode the request with codec msgpack")
	assert.Zero(t, calls.Load(), "the handler never ran")
}

func TestCallTimeout(t *testing.T) {
	d := startDemo(t)
	start := time.Now()
	r := fastrpc(t, "call", d.addr, "slow", "-d", "10s", "--timeout", "200ms")
	requireFailure(t, r, exitCall, "timed out after 200ms (raise --timeout)", `call "slow"`)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestCallStreamToFileBoundedMemory(t *testing.T) {
	d := startDemo(t)
	const size = 48 << 20
	out := filepath.Join(t.TempDir(), "big.bin")
	require.NoError(t, os.WriteFile(out, []byte("old"), 0o600))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := fastrpc(t, "call", d.addr, "stream", "-d", "48MiB", "-o", out, "--timeout", "1m")
	runtime.ReadMemStats(&after)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout, "the response went to the file")
	assert.Empty(t, r.stderr)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MiB streamed, %.1f MiB allocated (master and tool together)", size>>20, float64(allocated)/(1<<20))
	assert.Less(t, allocated, uint64(size/8), "memory is bounded: allocated a fraction of the response")

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	got := sha256.New()
	n, err := io.Copy(got, f)
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	want := sha256.New()
	_, _ = io.Copy(want, io.LimitReader(&pattern{}, size))
	assert.Equal(t, want.Sum(nil), got.Sum(nil), "the file holds the response")
	assertNoTempFiles(t, filepath.Dir(out))
}

func TestCallOutputKeptOnFailure(t *testing.T) {
	d := startDemo(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	require.NoError(t, os.WriteFile(out, []byte("previous"), 0o600))
	for _, args := range [][]string{
		{"call", d.addr, "nope", "--raw", "-o", out},
		{"call", d.addr, "greet", "-d", "{}", "-o", out},
		{"call", d.addr, "slow", "-d", "5s", "--timeout", "100ms", "-o", out},
	} {
		r := fastrpc(t, args...)
		require.NotEqual(t, exitOK, r.code, "%v", args)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.Equal(t, "previous", string(b), "%v leaves FILE as it was", args)
		assertNoTempFiles(t, dir)
	}
	// A decoded response goes to the file as indented JSON.
	r := fastrpc(t, "call", d.addr, "greet", "-d", `{"name": "Bob"}`, "-o", out)
	require.Equal(t, exitOK, r.code, r.stderr)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"greeting\": \"hello, Bob\"\n}\n", string(b))
	assertNoTempFiles(t, dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".fastrpc-", "temporary file left behind")
	}
}
