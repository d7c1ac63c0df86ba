package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangGuard bounds every wait that only exists to keep a broken test from
// hanging.
const hangGuard = 20 * time.Second

// result is what one run of the tool gave.
type result struct {
	code           int
	stdout, stderr string
}

// fastrpc runs the tool with args and an empty stdin.
func fastrpc(t *testing.T, args ...string) result {
	t.Helper()
	return fastrpcIn(t, strings.NewReader(""), args...)
}

// fastrpcIn runs the tool with args and stdin.
func fastrpcIn(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, stdin, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// requireFailure checks that r ended with code and a one-line error
// containing every one of parts.
func requireFailure(t *testing.T, r result, code int, parts ...string) {
	t.Helper()
	require.Equal(t, code, r.code, "exit code; stderr: %s", r.stderr)
	assert.Empty(t, r.stdout)
	require.True(t, strings.HasSuffix(r.stderr, "\n"), "stderr ends with a newline: %q", r.stderr)
	line := strings.TrimSuffix(r.stderr, "\n")
	assert.NotContains(t, line, "\n", "one line")
	assert.True(t, strings.HasPrefix(line, "fastrpc: "), "prefixed: %q", line)
	assert.Equal(t, 1, strings.Count(line, "fastrpc: "), "prefix once: %q", line)
	for _, p := range parts {
		assert.Contains(t, line, p)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demo is a demo master run by "fastrpc serve" through run.
type demo struct {
	addr   string
	stderr *syncBuffer // what serve wrote to stderr after its first line
	stop   func() int  // cancels serve's context, returns its exit code
}

// startDemo runs "fastrpc serve --addr 127.0.0.1:0 extra..." and returns
// once it listens, with the address of its first stderr line. It is
// stopped when the test ends.
func startDemo(t *testing.T, extra ...string) *demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...), strings.NewReader(""), io.Discard, pw)
		_ = pw.Close()
		done <- code
	}()
	first := make(chan string, 1)
	d := &demo{stderr: &syncBuffer{}}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		br := bufio.NewReader(pr)
		line, _ := br.ReadString('\n')
		first <- line
		_, _ = io.Copy(d.stderr, br)
	}()
	select {
	case line := <-first:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		require.True(t, ok, "serve's first line: %q", line)
		d.addr = addr
	case <-time.After(hangGuard):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	code := -1
	d.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(hangGuard):
				t.Error("serve did not stop")
			}
			<-drained
		})
		return code
	}
	t.Cleanup(func() {
		if c := d.stop(); c != exitOK {
			t.Errorf("serve exited with %d; stderr: %s", c, d.stderr)
		}
	})
	return d
}

// everyFlag returns, for each command, the flags its --help must list, as
// they are spelled there.
func everyFlag() map[string][]string {
	out := map[string][]string{}
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.setup(fs)
		fs.VisitAll(func(f *flag.Flag) {
			spelled := "--" + f.Name
			if len(f.Name) == 1 {
				spelled = "-" + f.Name
			}
			out[c.name] = append(out[c.name], spelled)
		})
	}
	return out
}

func TestHelpListsEveryFlag(t *testing.T) {
	flags := everyFlag()
	require.NotEmpty(t, flags["call"])
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := fastrpc(t, args...)
		require.Equal(t, exitOK, r.code, "%v", args)
		assert.Empty(t, r.stderr)
		for _, c := range commands {
			assert.Contains(t, r.stdout, "fastrpc "+c.name+" [flags]", "%v lists %s", args, c.name)
			// Each command's flags are listed under its synopsis.
			section := r.stdout[strings.Index(r.stdout, c.synopsis()):]
			if next := strings.Index(section[1:], "\n  fastrpc "); next > 0 {
				section = section[:next+1]
			}
			for _, f := range flags[c.name] {
				assert.Regexp(t, `(?m)^    `+f+`( |$)`, section, "%v lists %s %s", args, c.name, f)
			}
		}
		assert.Contains(t, r.stdout, "Exit status:")
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			r := fastrpc(t, args...)
			require.Equal(t, exitOK, r.code, "%v", args)
			assert.Empty(t, r.stderr)
			assert.True(t, strings.HasPrefix(r.stdout, "Usage: "+c.synopsis()+"\n"), "%v: %s", args, r.stdout)
			for _, f := range flags[c.name] {
				assert.Regexp(t, `(?m)^  `+f+`( |$)`, r.stdout, "%v lists %s", args, f)
			}
		}
	}
	// The exit codes a script relies on are documented where it looks.
	r := fastrpc(t, "call", "--help")
	assert.Contains(t, r.stdout, "JSON that does not parse is refused before anything is sent\n    (exit 2)")
	for _, code := range []string{"  0  ", "  1  ", "  2  ", "  3  "} {
		assert.Contains(t, r.stdout, code)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	badJSON := cfg("bad.json", `{"address": `)
	unknownField := cfg("unknown.json", `{"address": "127.0.0.1:1", "pool_sise": 2}`)
	unknownModule := cfg("module.json", `{"dialer": {"module": "carrier_pigeon"}}`)
	withDialer := cfg("dialer.json", `{"dialer": {"module": "tcp"}}`)
	noAddress := cfg("noaddr.json", `{"pool_size": 2}`)
	null := cfg("null.json", `null`)
	numberAddress := cfg("number.json", `{"address": 10000}`)
	for _, tc := range []struct {
		args  []string
		parts []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, `fastrpc --help`}},
		{[]string{"help", "frobnicate"}, []string{`unknown command "frobnicate"`}},
		{[]string{"caps", "--nope"}, []string{"caps: flag provided but not defined: -nope", `"fastrpc caps --help"`}},
		{[]string{"caps", "127.0.0.1:1", "--timeout", "soon"}, []string{`invalid value "soon" for flag -timeout`}},
		{[]string{"caps"}, []string{"missing ADDR"}},
		{[]string{"caps", "a:1", "b:2"}, []string{`unexpected argument "b:2"`}},
		{[]string{"call", "127.0.0.1:1"}, []string{"missing ADDR or METHOD"}},
		{[]string{"call", "127.0.0.1:1", "echo", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"serve", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"modules", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"caps", "localhost"}, []string{`bad address "localhost": missing port in address`, "HOST:PORT"}},
		{[]string{"call", "127.0.0.1:99999", "echo"}, []string{`port "99999" is not a number from 0 to 65535`}},
		{[]string{"caps", "127.0.0.1:1", "--timeout", "0s"}, []string{"--timeout 0s: want a positive duration"}},
		{[]string{"caps", "127.0.0.1:1", "--tls-cert", "c.pem"}, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"caps", "127.0.0.1:1", "--tls-ca", filepath.Join(dir, "missing.pem")}, []string{"TLS flags: ", "ca_file", "no such file"}},
		{[]string{"caps", "--config", filepath.Join(dir, "missing.json")}, []string{"--config: open ", "no such file"}},
		{[]string{"caps", "--config", badJSON}, []string{"--config " + badJSON + ": want a JSON object"}},
		{[]string{"caps", "--config", unknownField}, []string{"--config " + unknownField + ": ", "pool_sise"}},
		{[]string{"caps", "127.0.0.1:1", "--config", unknownModule}, []string{"carrier_pigeon", "dialer.tcp"}},
		{[]string{"caps", "127.0.0.1:1", "--config", withDialer, "--tls"}, []string{`has a "dialer": give TLS there or with the --tls flags, not both`}},
		{[]string{"caps", "--config", null}, []string{"--config " + null + ": want a JSON object, the config of slave.FromJSON: null"}},
		{[]string{"caps", "--config", numberAddress}, []string{"--config " + numberAddress + `: "address": json: cannot unmarshal number`}},
		{[]string{"caps", "--config", noAddress}, []string{`missing ADDR: give the master's HOST:PORT, or a --config with an "address"`}},
		{[]string{"call", "127.0.0.1:1", "echo", "-d", "@" + filepath.Join(dir, "missing.bin")}, []string{"-d @", "no such file"}},
		{[]string{"call", "127.0.0.1:1", "echo", "-o", filepath.Join(dir, "no", "such", "dir", "out")}, []string{"-o ", "cannot create a file in " + filepath.Join(dir, "no", "such", "dir") + ": no such file or directory"}},
		{[]string{"serve", "--addr", "nowhere"}, []string{`bad address "nowhere"`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			requireFailure(t, fastrpc(t, tc.args...), exitUsage, tc.parts...)
		})
	}
	// No arguments at all: the usage, on stderr.
	r := fastrpc(t)
	assert.Equal(t, exitUsage, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "Commands:")
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args, positional []string
		d                string
		raw              bool
	}{
		{[]string{"ADDR", "METHOD", "-d", "x"}, []string{"ADDR", "METHOD"}, "x", false},
		{[]string{"-d", "x", "ADDR", "--raw", "METHOD"}, []string{"ADDR", "METHOD"}, "x", true},
		{[]string{"ADDR", "-d", "-", "METHOD"}, []string{"ADDR", "METHOD"}, "-", false},
		{[]string{"ADDR", "--", "-METHOD", "--raw"}, []string{"ADDR", "-METHOD", "--raw"}, "", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		d := fs.String("d", "", "")
		raw := fs.Bool("raw", false, "")
		got, err := parseInterleaved(fs, tc.args)
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.positional, got, "%v", tc.args)
		assert.Equal(t, tc.d, *d, "%v", tc.args)
		assert.Equal(t, tc.raw, *raw, "%v", tc.args)
	}
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, `a\nb\tc`, oneLine("a\nb\tc"))
	assert.Equal(t, "plain é", oneLine("plain é"))
}
