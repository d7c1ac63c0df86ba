package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
)

// maxInMemory bounds what call holds in memory: JSON requests, responses it
// decodes, and requests read from a pipe. Raw requests from files and raw
// responses stream instead, whatever their size.
const maxInMemory = frame.DefaultMaxPayload

var callCommand = &command{
	name:    "call",
	args:    "ADDR METHOD",
	summary: "call a method and print its response",
	details: `
Calls METHOD on the master at ADDR (HOST:PORT) and prints its response.

The request is -d's: the DATA itself, @FILE for the contents of FILE, or -
for stdin; without -d it is empty. What happens to it depends on the
encodings the method's capabilities advertise (see "fastrpc caps ADDR"):

  - A method whose request encoding names a codec (msgpack, cbor, json)
    takes JSON, which the tool re-encodes with that codec: -d '{"a": 1}'.
    Integers are sent as integers, other numbers as floats; no -d is JSON
    null. JSON that does not parse is refused before anything is sent
    (exit 2); JSON that parses but does not fit the method's Go type is the
    master's to refuse (exit 1, code typed.CodeBadRequest).
  - A method whose response encoding names a codec has its response
    printed as indented JSON: a json response as it came, numbers
    untouched; msgpack and cbor decoded without loss: integers exact (64
    bits, cbor's bignums too), map keys as text, byte strings (msgpack bin,
    cbor byte strings) as base64 in a JSON string (as encoding/json prints
    []byte), a cbor tag without a Go type as {"tag": N, "value": ...}. A
    response it cannot show as JSON (two map keys that print alike, bytes
    that do not decode) is exit 3: use --raw -o FILE for its bytes.
  - Any other encoding (raw, empty, or one this tool has no codec for) is
    raw bytes, sent and printed unchanged. A raw request from a file (or a
    stdin redirected from one) and a raw response are streamed, with
    bounded memory whatever their size.

JSON -d is read into memory, up to 16 MiB; a request that encodes to more
than the slave sends (64 MiB, or a --config's "max_request_size") is
refused before anything is sent (exit 2).

--raw treats every method as raw bytes and skips the capabilities lookup.
-o FILE writes the response to FILE instead of stdout. A regular FILE, or
a new one, is written to a temporary file in its directory, renamed to
FILE once the whole response has arrived, so a failed call leaves FILE as
it was: an existing FILE keeps its mode, a new one gets mode 0644. A
symlink is followed: the file it names is replaced, the link kept. A
device or FIFO is opened and written straight into (a FIFO waits for its
reader, within --timeout); a directory, or a socket, which does not open,
is refused (exit 2).
--timeout bounds the whole call, reading -d and writing the response
included: raise it for large transfers. Ctrl-C (SIGINT) or SIGTERM
abandons the call: exit 130.

METHOD alone is enough when --config holds an "address".

` + exitStatusText,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		var o dialOptions
		var data dataFlag
		fs.Var(&data, "d", "the request: `DATA` itself, @FILE for a file's contents, - for stdin (default: empty; JSON null for a codec method)")
		out := fs.String("o", "", "write the response to `FILE` instead of stdout, replacing FILE only once the whole response has arrived (a new FILE gets mode 0644; an existing one keeps its mode)")
		raw := fs.Bool("raw", false, "send and print raw bytes whatever codec the method advertises; skips the capabilities lookup")
		o.register(fs)
		return func(ctx context.Context, std *stdio, args []string) error {
			var addr, method string
			switch {
			case len(args) == 2:
				addr, method = args[0], args[1]
			case len(args) == 1 && o.config != "":
				method = args[0]
			case len(args) > 2:
				return usageErrorf("call: unexpected argument %q; usage: fastrpc call [flags] ADDR METHOD", args[2])
			default:
				return usageErrorf("call: missing ADDR or METHOD; usage: fastrpc call [flags] ADDR METHOD")
			}
			return call(ctx, std, &o, callArgs{addr: addr, method: method, data: data, out: *out, raw: *raw})
		}
	},
}

// dataFlag is -d's value; set tells an empty -d ” from none.
type dataFlag struct {
	value string
	set   bool
}

func (d *dataFlag) String() string { return d.value }

func (d *dataFlag) Set(s string) error {
	d.value, d.set = s, true
	return nil
}

type callArgs struct {
	addr, method string
	data         dataFlag
	out          string
	raw          bool
}

func call(parent context.Context, std *stdio, o *dialOptions, a callArgs) error {
	if o.timeout <= 0 {
		return usageErrorf("--timeout %v: want a positive duration such as 10s", o.timeout)
	}
	// The deadline first: it bounds every wait, reading -d included.
	ctx, cancel := context.WithTimeout(o.outgoing(parent), o.timeout)
	defer cancel()
	// Everything local first: a missing file is a usage error, and
	// nothing has been sent.
	out := &output{w: std.out}
	var err error
	if a.out != "" {
		if out, err = createOutput(a.out); err != nil {
			return err
		}
	}
	defer out.abort()
	req, err := openPayloadCtx(ctx, parent, a.data, std.in, o.timeout)
	if err != nil {
		return err
	}
	defer req.close()
	if err := out.open(ctx, parent, o.timeout); err != nil {
		return err
	}
	// Writes that block (a stdout nobody reads) end with the deadline.
	out.w = newCtxWriter(ctx, out.w)
	defer out.w.(*ctxWriter).stop()

	s, addr, err := o.dial(parent, a.addr, std.errOut)
	if err != nil {
		return err
	}
	defer s.Close()
	fail := func(err error) error {
		if out.err != nil && !errors.Is(err, out.err) {
			err = out.err
		}
		if out.err != nil && parent.Err() == nil && !errors.Is(out.err, context.DeadlineExceeded) {
			return callErrorf("writing the response of %q to %s: %v", a.method, out.name(), out.err)
		}
		return interrupted(parent, explain(err, addr, a.method, o.timeout))
	}

	var in, back codec.Codec // nil: raw bytes
	if !a.raw {
		list, err := s.Capabilities(ctx)
		if err != nil {
			return fail(err)
		}
		found := false
		for _, c := range list.Methods {
			if c.Name == a.method {
				in, back, found = codecFor(c.IncomingEncoding), codecFor(c.ReturningEncoding), true
				break
			}
		}
		if !found {
			return unknownMethod(addr, a.method)
		}
	}
	if in != nil {
		text, err := req.jsonBytes()
		if err != nil {
			return err
		}
		v, err := parseJSON(text)
		if err == nil {
			text, err = in.Append(nil, v)
		}
		if err != nil {
			return usageErrorf("method %q takes %s: the JSON given does not fit: %v; give JSON such as -d '{\"a\": 1}', or --raw to send the bytes as they are",
				a.method, in.Name(), errtext.Text(err))
		}
		if limit := o.maxRequest; limit > 0 && int64(len(text)) > limit {
			return usageErrorf("method %q takes %s: the request encodes to %d bytes, more than the %d the slave sends (max_request_size); nothing was sent: raise max_request_size in a --config",
				a.method, in.Name(), len(text), limit)
		}
		req = payload{data: text, size: int64(len(text))}
	}

	if back == nil {
		// Raw response: streamed to the output as it arrives.
		_, err = s.CallStream(ctx, a.method, req.reader(), req.size, out.tracked())
		if err != nil {
			return fail(err)
		}
		return out.commit()
	}
	body, err := req.bytes()
	if err != nil {
		return err
	}
	resp, err := s.Call(ctx, a.method, body)
	if err != nil {
		return fail(err)
	}
	if len(resp) > 0 {
		text, err := render(back, resp)
		if err != nil {
			return callErrorf("the response of %q (%d bytes of %s): this tool cannot show it as JSON: %s; use --raw -o FILE to save its bytes",
				a.method, len(resp), back.Name(), strings.TrimPrefix(err.Error(), errtext.Prefix))
		}
		if _, err := out.tracked().Write(text); err != nil {
			return fail(err)
		}
	}
	return out.commit()
}

// render is a codec's response as indented JSON, then a newline: a json
// response is indented as it is, its numbers untouched; msgpack and cbor
// are decoded without loss (see printable).
func render(c codec.Codec, resp []byte) ([]byte, error) {
	var buf bytes.Buffer
	if c.Name() == codec.JSON.Name() {
		if err := json.Indent(&buf, bytes.TrimSpace(resp), "", "  "); err != nil {
			return nil, fmt.Errorf("it is not valid JSON: %v", err)
		}
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	}
	var v any
	var err error
	if c.Name() == codec.Msgpack.Name() {
		v, err = decodeMsgpackAny(resp)
	} else if err = c.Unmarshal(resp, &v); err != nil {
		err = errors.New(errtext.Text(err))
	}
	if err == nil {
		v, err = printable(v)
	}
	if err == nil {
		err = printJSON(&buf, v)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// interrupted turns the error of a command whose parent context a signal
// cancelled into exit 130.
func interrupted(parent context.Context, err error) error {
	if err == nil || parent.Err() == nil || !errors.Is(parent.Err(), context.Canceled) {
		return err
	}
	msg := strings.TrimPrefix(err.Error(), errtext.Prefix)
	if !strings.HasPrefix(msg, "interrupted") {
		msg = "interrupted: " + msg
	}
	return &exitError{code: exitInterrupted, msg: msg}
}

// codecFor returns the codec of an advertised encoding, or nil for raw
// bytes: no encoding, "raw", or one no codec in this build has.
func codecFor(encoding string) codec.Codec {
	if encoding == "" || encoding == codec.Raw.Name() {
		return nil
	}
	c, err := codec.Lookup(encoding)
	if err != nil {
		return nil
	}
	return c
}

// payload is a request: bytes in memory, or size bytes of a file streamed.
type payload struct {
	data []byte
	file *os.File // nil when data holds the request
	own  bool     // file is ours to close
	size int64
	what string // where it comes from, for messages
}

// openPayload opens -d's request: the data itself, a file, or stdin. A
// regular file streams; a pipe is read into memory, up to maxInMemory.
func openPayload(d dataFlag, stdin io.Reader) (payload, error) {
	switch {
	case !d.set || (d.value != "-" && (len(d.value) == 0 || d.value[0] != '@')):
		return payload{data: []byte(d.value), size: int64(len(d.value))}, nil
	case d.value == "-":
		if f, ok := stdin.(*os.File); ok {
			if p, ok := streamable(f, "stdin"); ok {
				return p, nil
			}
		}
		return readPayload(stdin, "stdin")
	}
	name := d.value[1:]
	f, err := os.Open(name)
	if err != nil {
		return payload{}, usageErrorf("-d @%s: %v", name, err)
	}
	if p, ok := streamable(f, name); ok {
		p.own = true
		return p, nil
	}
	defer f.Close()
	return readPayload(f, name)
}

// streamable returns a payload streaming f when it is a regular file, from
// its current offset.
func streamable(f *os.File, what string) (payload, bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return payload{}, false
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return payload{}, false
	}
	return payload{file: f, size: fi.Size() - off, what: what}, true
}

func readPayload(r io.Reader, what string) (payload, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInMemory+1))
	if err != nil {
		return payload{}, usageErrorf("-d: reading %s: %v", what, err)
	}
	if len(b) > maxInMemory {
		return payload{}, usageErrorf("-d: %s holds more than %d MiB, which is read into memory when it is not a regular file; pass a file with -d @FILE to stream it", what, maxInMemory>>20)
	}
	return payload{data: b, size: int64(len(b)), what: what}, nil
}

// maxJSONInput bounds the JSON -d a codec method takes: parsed into Go
// values, it takes many times its size in memory.
const maxJSONInput = 16 << 20

// jsonBytes is bytes for a request that is JSON to encode, up to
// maxJSONInput.
func (p payload) jsonBytes() ([]byte, error) {
	if p.size > maxJSONInput {
		return nil, usageErrorf("-d: %s holds %d bytes of JSON, more than the %d MiB this tool parses; nothing was sent: send the encoded request with --raw -d @FILE",
			p.describe(), p.size, maxJSONInput>>20)
	}
	return p.bytes()
}

func (p payload) describe() string {
	if p.what == "" {
		return "the data given"
	}
	return p.what
}

// openPayloadCtx is openPayload bounded by ctx: opening and reading stdin
// or a FIFO waits on whoever writes them. When ctx ends first the read is
// abandoned (its file closed if it ever opens) and the command ends: exit
// 3 at the deadline, 130 when parent was interrupted.
func openPayloadCtx(ctx, parent context.Context, d dataFlag, stdin io.Reader, timeout time.Duration) (payload, error) {
	if !d.set || (d.value != "-" && (len(d.value) == 0 || d.value[0] != '@')) {
		return openPayload(d, stdin)
	}
	type result struct {
		p   payload
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := openPayload(d, stdin)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		go func() { r := <-done; r.p.close() }()
		return payload{}, interrupted(parent, callErrorf("timed out reading -d %s after %v (raise --timeout): nothing was sent", d.value, timeout))
	}
}

func (p payload) reader() io.Reader {
	if p.file != nil {
		return p.file
	}
	return bytes.NewReader(p.data)
}

// bytes returns the request in memory, reading a file up to maxInMemory.
func (p payload) bytes() ([]byte, error) {
	if p.file == nil {
		return p.data, nil
	}
	if p.size > maxInMemory {
		return nil, usageErrorf("-d: %s holds %d bytes; a request that is encoded, or whose response is decoded, is held in memory, up to %d MiB: use --raw to stream it", p.what, p.size, maxInMemory>>20)
	}
	b := make([]byte, p.size)
	if _, err := io.ReadFull(p.file, b); err != nil {
		return nil, usageErrorf("-d: reading %s: %v", p.what, err)
	}
	return b, nil
}

func (p payload) close() {
	if p.own {
		_ = p.file.Close()
	}
}

// output is where the response goes: stdout, or -o's file. A new or
// regular file is written to a temporary file beside it that commit
// renames into place (keeping an existing file's mode; a new one gets
// 0644); a symlink is followed, and the file it names replaced, the link
// kept; a device, FIFO or socket is opened and written straight into.
type output struct {
	w      io.Writer
	file   *os.File // the temporary file, or the non-regular one; nil for stdout
	final  string   // -o's path, for messages
	target string   // the file replaced or written: final, its symlinks followed
	flag   string   // how errors name it: "-o", "bench: --html"
	mode   os.FileMode
	direct bool  // target is not a regular file: written straight, opened by open
	err    error // the first write error
	done   bool
}

func createOutput(path string) (*output, error) {
	return createFileOutput("-o", path)
}

// createFileOutput is createOutput for the flag named flag in errors.
func createFileOutput(flag, path string) (*output, error) {
	target, err := followLinks(path)
	if err != nil {
		return nil, usageErrorf("%s %s: %v", flag, path, err)
	}
	o := &output{final: path, target: target, flag: flag, mode: 0o644}
	fi, err := os.Lstat(target)
	switch {
	case err == nil && fi.IsDir():
		return nil, usageErrorf("%s %s: is a directory; give the path of a file", flag, path)
	case err == nil && !fi.Mode().IsRegular():
		o.direct = true // opened by open, bounded by the command's deadline
		return o, nil
	case err == nil:
		o.mode = fi.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("%s %s: %v", flag, path, unwrapPath(err))
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".fastrpc-*")
	if err != nil {
		return nil, usageErrorf("%s %s: cannot create a file in %s: %v", flag, path, filepath.Dir(target), unwrapPath(err))
	}
	o.w, o.file = f, f
	return o, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// followLinks follows path while it is a symlink, to the file it names
// (which need not exist).
func followLinks(path string) (string, error) {
	for range 255 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", unwrapPath(err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", errors.New("too many levels of symbolic links")
}

// open opens a non-regular -o file (a FIFO waits for its reader), within
// ctx; a file that does not open is a usage error: nothing was sent.
func (o *output) open(ctx, parent context.Context, timeout time.Duration) error {
	if !o.direct || o.file != nil {
		return nil
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(o.target, os.O_WRONLY, 0)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return usageErrorf("%s %s: %v", o.flag, o.final, unwrapPath(r.err))
		}
		o.w, o.file = r.f, r.f
		return nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.f != nil {
				_ = r.f.Close()
			}
		}()
		return interrupted(parent, callErrorf("%s %s: timed out after %v opening it for writing (a FIFO nobody reads?); nothing was sent", o.flag, o.final, timeout))
	}
}

func (o *output) name() string {
	if o.final == "" {
		return "stdout"
	}
	return o.final
}

// tracked returns a writer to the output that records its first error.
func (o *output) tracked() io.Writer { return trackedWriter{o} }

type trackedWriter struct{ o *output }

func (t trackedWriter) Write(p []byte) (int, error) {
	n, err := t.o.w.Write(p)
	if err != nil && t.o.err == nil {
		t.o.err = err
	}
	return n, err
}

// commit puts the response in place: -o's temporary file renamed over
// the file it replaces, or a non-regular file closed.
func (o *output) commit() error {
	if o.file == nil {
		return nil
	}
	o.done = true
	if o.direct {
		if err := o.file.Close(); err != nil {
			return callErrorf("%s %s: %v", o.flag, o.final, unwrapPath(err))
		}
		return nil
	}
	err := o.file.Chmod(o.mode)
	if cerr := o.file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.file.Name(), o.target)
	}
	if err != nil {
		_ = os.Remove(o.file.Name())
		return callErrorf("%s %s: %v", o.flag, o.final, err)
	}
	return nil
}

// abort drops -o's temporary file unless commit ran (a non-regular file
// is only closed: what was written to it stays written).
func (o *output) abort() {
	if o.file == nil || o.done {
		return
	}
	o.done = true
	_ = o.file.Close()
	if !o.direct {
		_ = os.Remove(o.file.Name())
	}
}

// ctxWriter writes to w from a goroutine of its own, so that a Write that
// blocks (a stdout nobody reads) is abandoned when ctx ends: Write then
// returns ctx's error, and the goroutine is left to its blocked write.
type ctxWriter struct {
	ctx  context.Context
	w    io.Writer
	reqs chan []byte
	res  chan writeResult
	buf  []byte
	dead bool
	once sync.Once
}

type writeResult struct {
	n   int
	err error
}

func newCtxWriter(ctx context.Context, w io.Writer) *ctxWriter {
	c := &ctxWriter{ctx: ctx, w: w, reqs: make(chan []byte), res: make(chan writeResult, 1)}
	go func() {
		for p := range c.reqs {
			n, err := c.w.Write(p)
			c.res <- writeResult{n, err}
		}
	}()
	return c
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if c.dead {
		return 0, c.ctx.Err()
	}
	// A copy: p is the caller's again once Write returns, even when the
	// write goes on.
	c.buf = append(c.buf[:0], p...)
	select {
	case c.reqs <- c.buf:
	case <-c.ctx.Done():
		c.dead = true
		return 0, c.ctx.Err()
	}
	select {
	case r := <-c.res:
		return r.n, r.err
	case <-c.ctx.Done():
		c.dead, c.buf = true, nil
		return 0, c.ctx.Err()
	}
}

// stop ends the goroutine, once any write in progress returns.
func (c *ctxWriter) stop() { c.once.Do(func() { close(c.reqs) }) }
