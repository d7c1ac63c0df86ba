package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"

	"github.com/AmanTrance/FastRpc/codec"
	"github.com/AmanTrance/FastRpc/frame"
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
    decoded and printed as indented JSON (map keys as text).
  - Any other encoding (raw, empty, or one this tool has no codec for) is
    raw bytes, sent and printed unchanged. A raw request from a file (or a
    stdin redirected from one) and a raw response are streamed, with
    bounded memory whatever their size.

--raw treats every method as raw bytes and skips the capabilities lookup.
-o FILE writes the response to FILE instead of stdout: to a temporary file
next to it, renamed to FILE once the whole response has arrived, so a
failed call leaves FILE as it was. --timeout bounds the whole call,
response included: raise it for large transfers.

METHOD alone is enough when --config holds an "address".

` + exitStatusText,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		var o dialOptions
		var data dataFlag
		fs.Var(&data, "d", "the request: `DATA` itself, @FILE for a file's contents, - for stdin (default: empty; JSON null for a codec method)")
		out := fs.String("o", "", "write the response to `FILE` instead of stdout, replacing FILE only once the whole response has arrived")
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

func call(ctx context.Context, std *stdio, o *dialOptions, a callArgs) error {
	// Everything local first: a missing file is a usage error, and
	// nothing has been sent.
	req, err := openPayload(a.data, std.in)
	if err != nil {
		return err
	}
	defer req.close()
	out := &output{w: std.out}
	if a.out != "" {
		if out, err = createOutput(a.out); err != nil {
			return err
		}
	}
	defer out.abort()

	s, addr, err := o.dial(ctx, a.addr, std.errOut)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	var in, back codec.Codec // nil: raw bytes
	if !a.raw {
		list, err := s.Capabilities(ctx)
		if err != nil {
			return explain(err, addr, a.method, o.timeout)
		}
		found := false
		for _, c := range list {
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
		text, err := req.bytes()
		if err != nil {
			return err
		}
		v, err := parseJSON(text)
		if err == nil {
			text, err = in.Append(nil, v)
		}
		if err != nil {
			return usageErrorf("method %q takes %s: the JSON given does not fit: %v; give JSON such as -d '{\"a\": 1}', or --raw to send the bytes as they are",
				a.method, in.Name(), err)
		}
		req = payload{data: text, size: int64(len(text))}
	}

	if back == nil {
		// Raw response: streamed to the output as it arrives.
		_, err = s.CallStream(ctx, a.method, req.reader(), req.size, out.tracked())
		if err != nil {
			if out.err != nil {
				return callErrorf("writing the response of %q to %s: %v", a.method, out.name(), out.err)
			}
			return explain(err, addr, a.method, o.timeout)
		}
		return out.commit()
	}
	body, err := req.bytes()
	if err != nil {
		return err
	}
	resp, err := s.Call(ctx, a.method, body)
	if err != nil {
		return explain(err, addr, a.method, o.timeout)
	}
	if len(resp) > 0 {
		var v any
		if err := back.Unmarshal(resp, &v); err != nil {
			return remoteErrorf("method %q advertises %s responses, but its response (%d bytes) does not decode as %s: %v; add --raw to see its bytes",
				a.method, back.Name(), len(resp), back.Name(), err)
		}
		if err := printJSON(out.tracked(), printable(v)); err != nil {
			if out.err != nil {
				return callErrorf("writing the response of %q to %s: %v", a.method, out.name(), out.err)
			}
			return remoteErrorf("the response of %q does not convert to JSON: %v; add --raw to see its bytes", a.method, err)
		}
	}
	return out.commit()
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

// output is where the response goes: stdout, or -o's file, written to a
// temporary file beside it that commit renames into place.
type output struct {
	w     io.Writer
	file  *os.File // the temporary file, nil for stdout
	final string   // -o's path
	flag  string   // how errors name it: "-o", "bench: --html"
	err   error    // the first write error
	done  bool
}

func createOutput(path string) (*output, error) {
	return createFileOutput("-o", path)
}

// createFileOutput is createOutput for the flag named flag in errors.
func createFileOutput(flag, path string) (*output, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".fastrpc-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageErrorf("%s %s: cannot create a file in %s: %v", flag, path, filepath.Dir(path), err)
	}
	return &output{w: f, file: f, final: path, flag: flag}, nil
}

func (o *output) name() string {
	if o.file == nil {
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

// commit puts the response in place: -o's temporary file renamed to its
// name.
func (o *output) commit() error {
	if o.file == nil {
		return nil
	}
	o.done = true
	err := o.file.Chmod(0o644)
	if cerr := o.file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.file.Name(), o.final)
	}
	if err != nil {
		_ = os.Remove(o.file.Name())
		return callErrorf("%s %s: %v", o.flag, o.final, err)
	}
	return nil
}

// abort drops -o's temporary file unless commit ran.
func (o *output) abort() {
	if o.file == nil || o.done {
		return
	}
	_ = o.file.Close()
	_ = os.Remove(o.file.Name())
}
