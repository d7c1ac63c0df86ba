package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/AmanTrance/FastRpc/conn"
	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/internal/errtext"
	"github.com/AmanTrance/FastRpc/metadata"
	"github.com/AmanTrance/FastRpc/module"
	"github.com/AmanTrance/FastRpc/slave"
	"github.com/AmanTrance/FastRpc/transport"
	"github.com/AmanTrance/FastRpc/typed"

	// Every module a slave config can name: pool.puddle is the one the
	// slave's own imports do not register. (transport registers the
	// dialers, middleware the slave middleware.)
	_ "github.com/AmanTrance/FastRpc/middleware"
	_ "github.com/AmanTrance/FastRpc/poolimpl/puddle"
)

// defaultTimeout bounds every command that dials, unless --timeout says
// otherwise.
const defaultTimeout = 10 * time.Second

// dialOptions are the flags of every command that dials a master.
type dialOptions struct {
	config     string
	tls        bool
	tlsCA      string
	tlsCert    string
	tlsKey     string
	serverName string
	timeout    time.Duration
	poolSize   int // when > 0, the slave's pool size, replacing the config's (bench's --connections)
	// maxRequest is the slave's max_request_size once dial ran: the
	// largest request held in memory it sends; 0 for no limit.
	maxRequest int64
	headers    headerFlag // -H: metadata sent with every call
}

// headerFlag collects -H key=value pairs as the calls' metadata.
type headerFlag struct{ md metadata.MD }

func (h *headerFlag) String() string { return "" }

func (h *headerFlag) Set(s string) error {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want key=value, such as -H x-request-id=42")
	}
	key = strings.ToLower(strings.TrimSpace(key))
	if err := frame.CheckMetadataKey(key); err != nil {
		return errors.New(errtext.Text(err))
	}
	md := append(h.md, metadata.Pair{Key: key, Value: value})
	if err := md.Check(); err != nil {
		return errors.New(errtext.Text(err))
	}
	h.md = md
	return nil
}

// outgoing is ctx carrying -H's metadata, if any.
func (o *dialOptions) outgoing(ctx context.Context) context.Context {
	if len(o.headers.md) == 0 {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, o.headers.md)
}

func (o *dialOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "dial as the slave config in `FILE` says: the JSON of slave.FromJSON "+
		`(dialer, TLS, pool, limits); ADDR replaces its "address"`)
	fs.BoolVar(&o.tls, "tls", false, "dial with TLS, trusting the system's CAs; implied by the other --tls flags and --server-name")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "dial with TLS, trusting the CA certificates in PEM `FILE`")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "dial with TLS, presenting the client certificate in PEM `FILE` (with --tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the key of --tls-cert, in PEM `FILE`")
	fs.StringVar(&o.serverName, "server-name", "", "dial with TLS; the master's certificate must hold `NAME` (default: ADDR's host)")
	fs.Var(&o.headers, "H", "send `KEY=VALUE` as metadata with every call (protocol version 2), such as -H authorization='Bearer TOKEN'; repeat for more pairs")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "give up after `DURATION`, for the whole command: connecting, "+
		"the call and its response; the master gets it as the call's deadline")
}

func (o *dialOptions) useTLS() bool {
	return o.tls || o.tlsCA != "" || o.tlsCert != "" || o.tlsKey != "" || o.serverName != ""
}

// dial builds the slave for addr ("" to take the address from --config)
// and returns it with the address it dials. It does not connect: the first
// call does. Its errors are usage errors: nothing was sent. Modules of the
// config that log (slave.middleware.logging) write to errOut.
func (o *dialOptions) dial(ctx context.Context, addr string, errOut io.Writer) (*slave.Slave, string, error) {
	if o.timeout <= 0 {
		return nil, "", usageErrorf("--timeout %v: want a positive duration such as 10s", o.timeout)
	}
	doc := map[string]json.RawMessage{}
	source := "" // what the config came from, for error messages
	if o.config != "" {
		source = "--config " + o.config + ": "
		data, err := os.ReadFile(o.config)
		if err != nil {
			return nil, "", usageErrorf("--config: %v", err)
		}
		if err := json.Unmarshal(data, &doc); err != nil || doc == nil {
			why := "null"
			if err != nil {
				why = err.Error()
			}
			return nil, "", usageErrorf("%swant a JSON object, the config of slave.FromJSON: %s", source, why)
		}
	}
	if addr != "" {
		doc["address"], _ = json.Marshal(addr)
	}
	if o.poolSize > 0 {
		doc["pool_size"], _ = json.Marshal(o.poolSize)
		var pool struct {
			MinIdle int `json:"min_idle"`
		}
		if json.Unmarshal(doc["pool"], &pool) == nil && pool.MinIdle > o.poolSize {
			return nil, "", usageErrorf("--connections %d is fewer than the %d connections the pool of --config %s keeps open (its \"min_idle\"): raise --connections to %d or more, or lower min_idle",
				o.poolSize, pool.MinIdle, o.config, pool.MinIdle)
		}
	}
	// A --timeout longer than the dial timeout bounds connecting too.
	var dialTimeout module.Duration
	if err := json.Unmarshal(doc["dial_timeout"], &dialTimeout); err != nil || dialTimeout.D() <= 0 {
		dialTimeout = module.Duration(conn.DefaultConnectTimeout)
	}
	if o.timeout > dialTimeout.D() {
		doc["dial_timeout"], _ = json.Marshal(o.timeout.String())
	}
	o.maxRequest = frame.DefaultMaxPayload
	var maxRequest int64
	if err := json.Unmarshal(doc["max_request_size"], &maxRequest); err == nil && maxRequest != 0 {
		o.maxRequest = max(maxRequest, 0)
	}
	var network, address, dialerModule string
	_ = json.Unmarshal(doc["network"], &network)
	if err := json.Unmarshal(doc["address"], &address); err != nil && len(doc["address"]) > 0 {
		return nil, "", usageErrorf("%s\"address\": %v", source, err)
	}
	if len(doc["dialer"]) > 0 {
		var d struct{ Module string }
		_ = json.Unmarshal(doc["dialer"], &d)
		dialerModule = strings.TrimPrefix(d.Module, "dialer.")
	}
	if address == "" {
		return nil, "", usageErrorf("missing ADDR: give the master's HOST:PORT, or a --config with an \"address\"")
	}
	if dialerModule != "unix" && (network == "" || strings.HasPrefix(network, "tcp")) {
		if err := checkHostPort(address); err != nil {
			return nil, "", err
		}
	}
	if o.useTLS() {
		if len(doc["dialer"]) > 0 {
			return nil, "", usageErrorf("%sit has a \"dialer\": give TLS there or with the --tls flags, not both", source)
		}
		if (o.tlsCert == "") != (o.tlsKey == "") {
			return nil, "", usageErrorf("--tls-cert and --tls-key go together: give both for a client certificate, or neither")
		}
		d, err := tlsDialerJSON(&transport.TLSDialer{CAFile: o.tlsCA, CertFile: o.tlsCert, KeyFile: o.tlsKey, ServerName: o.serverName})
		if err != nil {
			return nil, "", err
		}
		doc["dialer"] = d
		if source == "" {
			source = "TLS flags: "
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, "", err
	}
	logger := slog.New(slog.NewTextHandler(errOut, nil))
	s, err := slave.FromJSON(module.ContextWithLogger(ctx, logger), data)
	if err != nil {
		return nil, "", usageErrorf("%s%s", source, errtext.Text(err))
	}
	return s, address, nil
}

// tlsDialerJSON is d as the "dialer" of a slave's JSON config.
func tlsDialerJSON(d *transport.TLSDialer) (json.RawMessage, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	fields["module"] = "tls"
	return json.Marshal(fields)
}

// checkHostPort refuses what cannot be a TCP address, before dialing.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		why := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			why = ae.Err
		}
		return usageErrorf("bad address %q: %s; want HOST:PORT such as 127.0.0.1:10000", addr, why)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usageErrorf("bad address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// explain turns a failed call's error into the command's: a message that
// says what happened and what to do, and the exit code (exitRemote when the
// master answered with an error, exitCall when the call could not be made).
func explain(err error, addr, method string, timeout time.Duration) error {
	lib := errtext.Text(err)
	var re *slave.RemoteError
	var opErr *net.OpError
	var ve *frame.VersionError
	var header tls.RecordHeaderError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return callErrorf("timed out after %v (raise --timeout): %s", timeout, lib)
	case errors.Is(err, context.Canceled):
		// Only the command's parent context, which SIGINT and SIGTERM
		// cancel, ends calls with Canceled.
		return &exitError{code: exitInterrupted, msg: "interrupted: " + lib}
	case errors.Is(err, syscall.ECONNREFUSED):
		return callErrorf("cannot reach %s: connection refused; is a master running there?", addr)
	case errors.As(err, &header) && bytes.HasPrefix(header.RecordHeader[:], []byte("FRPC")):
		return callErrorf("%s speaks plain FastRpc, not TLS: drop --tls (and the other --tls flags and --server-name), or give a --config without a tls dialer", addr)
	case errors.Is(err, frame.ErrBadMagic):
		if strings.Contains(lib, "the peer speaks TLS") {
			return callErrorf("%s speaks TLS: dial it with --tls-ca FILE (and --server-name NAME), or a --config with a tls dialer", addr)
		}
		return callErrorf("%s is not a FastRpc master (it answered %s)", addr, answered(lib))
	case errors.As(err, &ve):
		return callErrorf("%s speaks another version of the FastRpc protocol: %s", addr, lib)
	case errors.Is(err, conn.ErrNoPreface):
		return callErrorf("%s is not a FastRpc master: it accepted the connection but sent no FastRpc preface within %v "+
			"(an HTTP server, say, which waits for its client to speak first)", addr, conn.DefaultHandshakeTimeout)
	case errors.Is(err, conn.ErrDialTimeout),
		errors.Is(err, slave.ErrUnavailable) && errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Timeout():
		// The slave's dial timeout is --timeout, or a --config's longer
		// dial_timeout.
		return callErrorf("cannot reach %s: no connection within the dial timeout (--timeout %v, or a --config's longer \"dial_timeout\"); check the address and the network, or raise --timeout", addr, timeout)
	case errors.Is(err, slave.ErrUnavailable) && errors.As(err, &opErr) && opErr.Op == "dial":
		return callErrorf("cannot reach %s: %v", addr, opErr.Err)
	case errors.Is(err, slave.ErrUnavailable):
		// Overloaded, shutting down, a TLS failure: the library's message
		// says what to do.
		return callErrorf("%s", lib)
	case errors.Is(err, slave.ErrMetadataUnsupported):
		return callErrorf("%s speaks only protocol version 1, which carries no metadata: drop -H (nothing was sent)", addr)
	case errors.Is(err, slave.ErrUnknownMethod):
		return unknownMethod(addr, method)
	case errors.As(err, &re):
		return remoteError(re)
	case errors.Is(err, slave.ErrResponseTooLarge):
		return callErrorf("%s; add --raw -o FILE to stream the response to a file", lib)
	}
	// ErrConnection, ErrProtocol and the rest: the message says.
	return callErrorf("%s", lib)
}

func unknownMethod(addr, method string) error {
	return remoteErrorf("master has no method %q; run \"fastrpc caps %s\" for the list", method, addr)
}

// remoteError describes an error the master answered with.
func remoteError(re *slave.RemoteError) error {
	// A message FastRpc made on the master (the typed layer's) carries the
	// prefix this line already starts with.
	msg := strings.TrimPrefix(re.Message, errtext.Prefix)
	code := ""
	if re.Code != 0 {
		code = fmt.Sprintf(" (code %d%s)", re.Code, codeNote(re.Code))
	}
	switch re.Status {
	case frame.StatusApplicationError:
		return remoteErrorf("method %q answered with an error%s: %s", re.Method, code, msg)
	case frame.StatusHandlerPanic:
		return remoteErrorf("method %q panicked on the master (its log has the details): %s", re.Method, msg)
	case frame.StatusPermissionDenied:
		return remoteErrorf("the master refused to run %q: permission denied%s: %s", re.Method, code, msg)
	case frame.StatusRequestTooLarge:
		return remoteErrorf("the master refused the request to %q as too large: %s", re.Method, msg)
	}
	return remoteErrorf("%s", errtext.Text(re))
}

// codeNote names the typed layer's own codes.
func codeNote(code uint32) string {
	switch code {
	case typed.CodeBadRequest:
		return ", typed.CodeBadRequest: the request does not decode into the method's Go type"
	case typed.CodeBadResponse:
		return ", typed.CodeBadResponse: the master could not encode its response"
	}
	return ""
}

// answered quotes what a peer that is not a FastRpc master sent, from the
// library's `got "..."`.
func answered(lib string) string {
	i := strings.Index(lib, `got "`)
	if i < 0 {
		return "something else"
	}
	q, err := strconv.QuotedPrefix(lib[i+len("got "):])
	if err != nil {
		return "something else"
	}
	rest := lib[i+len("got ")+len(q):]
	if strings.HasPrefix(rest, " then end of stream") {
		return q + " and closed the connection"
	}
	return strings.TrimSuffix(q, `"`) + `..."`
}
