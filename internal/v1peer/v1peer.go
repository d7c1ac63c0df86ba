package v1peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Version is the protocol version this package speaks, and the only one.
const Version uint16 = 1

// Preface statuses a master sends.
const (
	// PrefaceOK means the master serves the connection.
	PrefaceOK uint16 = 0
	// PrefaceOverloaded means the master is full and closes the connection.
	PrefaceOverloaded uint16 = 1
	// PrefaceShuttingDown means the master is stopping and closes the
	// connection.
	PrefaceShuttingDown uint16 = 2
)

// Response statuses.
const (
	// StatusOK: the payload is the handler's result.
	StatusOK uint8 = 0
	// StatusApplicationError: the handler failed; see the code and message.
	StatusApplicationError uint8 = 1
	// StatusUnknownMethod: no method has the request's ID.
	StatusUnknownMethod uint8 = 2
	// StatusTooLarge: the request payload exceeds the master's limit.
	StatusTooLarge uint8 = 3
	// StatusPanic: the handler panicked.
	StatusPanic uint8 = 4
	// StatusShuttingDown: the master is stopping.
	StatusShuttingDown uint8 = 5
	// StatusDeadlineExceeded: the request's timeout passed.
	StatusDeadlineExceeded uint8 = 6
	// StatusPermissionDenied: the slave may not call the method.
	StatusPermissionDenied uint8 = 7
)

// Frame sizes, in bytes.
const (
	// PrefaceSize is the size of a preface.
	PrefaceSize = 8
	// RequestHeaderSize is the size of a request header.
	RequestHeaderSize = 32
	// ResponseHeaderSize is the size of a response header.
	ResponseHeaderSize = 16
)

// MaxRequest is the largest request payload the master peer reads; a longer
// one is answered with [StatusTooLarge] and the connection is closed.
const MaxRequest = 16 << 20

// MaxResponse is the largest response payload a [SlaveConn] reads; a longer
// one is an error and closes the connection.
const MaxResponse = 64 << 20

// CapabilitiesName is the name of method ID 0.
const CapabilitiesName = "capabilities"

// CapabilitiesEncoding is the returning encoding of the capabilities entry.
const CapabilitiesEncoding = "fastrpc.capabilities.v1"

const (
	masterIOTimeout = 10 * time.Second
	slaveIOTimeout  = 5 * time.Second
	maxString       = 1<<16 - 1
	fnvOffset       = 14695981039346656037
	fnvPrime        = 1099511628211
)

var magic = [4]byte{'F', 'R', 'P', 'C'}

// MethodID returns the version 1 method ID of name: 0 for "capabilities",
// else the 64-bit FNV-1a hash of name.
func MethodID(name string) uint64 {
	if name == CapabilitiesName {
		return 0
	}
	h := uint64(fnvOffset)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= fnvPrime
	}
	return h
}

// Handler answers one v1 request: return (payload, nil) for status ok, or
// an error; an error of type *Status sets status/code.
//
// The *Status is used as given (its Message becomes the payload), so a test
// can make the master peer send any status, even 0 or one version 1 does not
// define. Any other error is sent as status 1 with err.Error(). A handler
// must return: the test's cleanup waits for it.
type Handler func(req []byte) ([]byte, error)

// Status is an error a [Handler] returns to choose the response's status,
// application error code and message.
type Status struct {
	Status  uint8
	Code    uint32
	Message string
}

// Error describes s.
func (s *Status) Error() string {
	return fmt.Sprintf("v1peer: status %d code %d: %s", s.Status, s.Code, s.Message)
}

// Response is one version 1 response as a [SlaveConn] read it. When Status
// is not [StatusOK], Payload is the master's UTF-8 message.
type Response struct {
	Status  uint8
	Code    uint32
	Payload []byte
}

// Capability is one entry of the capabilities body.
type Capability struct {
	Name              string
	Description       string
	IncomingEncoding  string
	ReturningEncoding string
}

// requestHeader is a decoded request header.
type requestHeader struct {
	Method, Length, Timeout uint64
	Flags, Reserved         uint32
}

// responseHeader is a decoded response header; Reserved holds 24 bits.
type responseHeader struct {
	Status         uint8
	Reserved, Code uint32
	Length         uint64
}

func appendPreface(b []byte, version, status uint16) []byte {
	b = append(b, magic[:]...)
	b = binary.BigEndian.AppendUint16(b, version)
	return binary.BigEndian.AppendUint16(b, status)
}

// parsePreface decodes a preface, failing only on bad magic.
func parsePreface(b []byte) (version, status uint16, err error) {
	if [4]byte(b[:4]) != magic {
		return 0, 0, fmt.Errorf("bad preface magic %x", b[:4])
	}
	return binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), nil
}

func appendRequestHeader(b []byte, h requestHeader) []byte {
	b = binary.BigEndian.AppendUint64(b, h.Method)
	b = binary.BigEndian.AppendUint64(b, h.Length)
	b = binary.BigEndian.AppendUint64(b, h.Timeout)
	b = binary.BigEndian.AppendUint32(b, h.Flags)
	return binary.BigEndian.AppendUint32(b, h.Reserved)
}

func parseRequestHeader(b []byte) requestHeader {
	return requestHeader{
		Method:   binary.BigEndian.Uint64(b[0:]),
		Length:   binary.BigEndian.Uint64(b[8:]),
		Timeout:  binary.BigEndian.Uint64(b[16:]),
		Flags:    binary.BigEndian.Uint32(b[24:]),
		Reserved: binary.BigEndian.Uint32(b[28:]),
	}
}

// appendResponseHeader appends a response header with its reserved bits 0.
func appendResponseHeader(b []byte, status uint8, code uint32, length uint64) []byte {
	b = append(b, status, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, code)
	return binary.BigEndian.AppendUint64(b, length)
}

func parseResponseHeader(b []byte) responseHeader {
	return responseHeader{
		Status:   b[0],
		Reserved: binary.BigEndian.Uint32(b[0:]) & 0xffffff,
		Code:     binary.BigEndian.Uint32(b[4:]),
		Length:   binary.BigEndian.Uint64(b[8:]),
	}
}

// appendCapabilities appends the capabilities body for caps; every string
// must be at most 65535 bytes.
func appendCapabilities(b []byte, caps []Capability) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(caps)))
	for _, c := range caps {
		for _, s := range [...]string{c.Name, c.Description, c.IncomingEncoding, c.ReturningEncoding} {
			b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// ParseCapabilities decodes a version 1 capabilities body strictly:
// truncation and trailing bytes are errors, and every length is checked
// against the bytes present before anything is allocated.
func ParseCapabilities(body []byte) ([]Capability, error) {
	if len(body) < 4 {
		return nil, errors.New("v1peer: capabilities body shorter than its count")
	}
	n := binary.BigEndian.Uint32(body)
	b := body[4:]
	// Each entry takes at least its four 2-byte lengths.
	if uint64(n) > uint64(len(b))/8 {
		return nil, fmt.Errorf("v1peer: capabilities body claims %d entries in %d bytes", n, len(b))
	}
	caps := make([]Capability, 0, n)
	for i := range n {
		var f [4]string
		for j := range f {
			s, rest, ok := cutString(b)
			if !ok {
				return nil, fmt.Errorf("v1peer: capabilities entry %d truncated", i)
			}
			f[j], b = s, rest
		}
		caps = append(caps, Capability{Name: f[0], Description: f[1], IncomingEncoding: f[2], ReturningEncoding: f[3]})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("v1peer: capabilities body has %d trailing bytes", len(b))
	}
	return caps, nil
}

// cutString splits a length-prefixed string off the front of b.
func cutString(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	l := int(binary.BigEndian.Uint16(b))
	if l > len(b)-2 {
		return "", nil, false
	}
	return string(b[2 : 2+l]), b[2+l:], true
}

// MasterPeer is a version 1 master serving on loopback until its test
// ends. Its methods are safe for concurrent use.
type MasterPeer struct {
	t        testing.TB
	ln       net.Listener
	handlers map[uint64]Handler
	caps     []byte
	wg       sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	conns    map[net.Conn]struct{}
	prefaces []uint16
	requests int
	errs     []string
}

// Master serves protocol v1 on a free 127.0.0.1 port until the test ends
// (t.Cleanup closes the listener and every connection and waits for all
// goroutines). It fails the test when methods holds "capabilities", two
// names with one ID, or a name longer than 65535 bytes.
func Master(t testing.TB, methods map[string]Handler) *MasterPeer {
	t.Helper()
	handlers, caps, err := methodTable(methods)
	if err != nil {
		t.Fatalf("v1peer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("v1peer: listen: %v", err)
	}
	m := &MasterPeer{t: t, ln: ln, handlers: handlers, caps: caps, conns: map[net.Conn]struct{}{}}
	m.wg.Add(1)
	go m.accept()
	t.Cleanup(m.close)
	return m
}

// methodTable indexes methods by ID and builds the capabilities body.
func methodTable(methods map[string]Handler) (map[uint64]Handler, []byte, error) {
	handlers := make(map[uint64]Handler, len(methods))
	caps := []Capability{{Name: CapabilitiesName, ReturningEncoding: CapabilitiesEncoding}}
	names := make([]string, 0, len(methods))
	for name := range methods {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		id := MethodID(name)
		if _, dup := handlers[id]; dup || id == 0 || len(name) > maxString {
			return nil, nil, fmt.Errorf("method %q cannot be registered (built in, ID %#016x taken, or too long)", name, id)
		}
		handlers[id] = methods[name]
		caps = append(caps, Capability{Name: name})
	}
	return handlers, appendCapabilities(nil, caps), nil
}

// Addr returns the address the master peer listens on, host:port.
func (m *MasterPeer) Addr() string { return m.ln.Addr().String() }

// SlavePrefaces returns the status fields of every slave preface received
// so far (to check what a newer slave offered), in arrival order. A
// preface counts when its magic is right, whatever its version.
func (m *MasterPeer) SlavePrefaces() []uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.prefaces)
}

// Requests returns the number of requests served: every request whose
// header was accepted and answered, whatever the response's status.
func (m *MasterPeer) Requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

// Errors returns protocol violations it saw (bad magic, version, nonzero
// flags/reserved, truncated frames, ...), one string each.
func (m *MasterPeer) Errors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.errs)
}

func (m *MasterPeer) violation(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

// close stops the listener and every connection and waits for their
// goroutines, failing the test if they do not stop.
func (m *MasterPeer) close() {
	m.mu.Lock()
	m.closed = true
	_ = m.ln.Close()
	for c := range m.conns {
		_ = c.Close()
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * masterIOTimeout):
		m.t.Errorf("v1peer: master peer goroutines still running (a handler that does not return?)")
	}
}

func (m *MasterPeer) accept() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		if !m.track(c) {
			_ = c.Close()
			return
		}
		go m.serve(c)
	}
}

// track registers c and its goroutine unless the peer is closed.
func (m *MasterPeer) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	m.wg.Add(1)
	return true
}

func (m *MasterPeer) untrack(c net.Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, c)
}

// serve runs one connection: the handshake, then requests until the slave
// leaves, a deadline passes, or a violation.
func (m *MasterPeer) serve(c net.Conn) {
	defer m.wg.Done()
	defer m.untrack(c)
	defer c.Close()
	if !m.handshake(c) {
		return
	}
	for m.serveOne(c) {
	}
}

func (m *MasterPeer) handshake(c net.Conn) bool {
	if !m.write(c, appendPreface(nil, Version, PrefaceOK)) {
		return false
	}
	var b [PrefaceSize]byte
	if !m.read(c, b[:], "slave preface") {
		return false
	}
	version, status, err := parsePreface(b[:])
	if err != nil {
		m.violation("%v", err)
		return false
	}
	m.mu.Lock()
	m.prefaces = append(m.prefaces, status)
	m.mu.Unlock()
	if version != Version {
		m.violation("slave preface version %d, want %d", version, Version)
		return false
	}
	return true
}

// serveOne reads one request and answers it; it reports whether the
// connection goes on.
func (m *MasterPeer) serveOne(c net.Conn) bool {
	var b [RequestHeaderSize]byte
	if !m.read(c, b[:], "request header") {
		return false
	}
	h := parseRequestHeader(b[:])
	if !m.checkHeader(h) {
		return false
	}
	if h.Length > MaxRequest {
		m.count()
		msg := fmt.Sprintf("request of %d bytes exceeds the limit of %d bytes", h.Length, MaxRequest)
		m.respond(c, StatusTooLarge, 0, []byte(msg))
		return false
	}
	req := make([]byte, h.Length)
	if !m.read(c, req, "request payload") {
		return false
	}
	status, code, payload := m.dispatch(h.Method, req)
	m.count()
	return m.respond(c, status, code, payload)
}

// checkHeader records every nonzero field that must be zero.
func (m *MasterPeer) checkHeader(h requestHeader) bool {
	if h.Flags != 0 {
		m.violation("request flags %#08x, want 0", h.Flags)
	}
	if h.Reserved != 0 {
		m.violation("request reserved field %#08x, want 0", h.Reserved)
	}
	return h.Flags == 0 && h.Reserved == 0
}

func (m *MasterPeer) count() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
}

// dispatch runs the method and returns the response to send.
func (m *MasterPeer) dispatch(id uint64, req []byte) (uint8, uint32, []byte) {
	if id == 0 {
		return StatusOK, 0, m.caps
	}
	h, ok := m.handlers[id]
	if !ok {
		return StatusUnknownMethod, 0, fmt.Appendf(nil, "no method with ID %#016x is registered", id)
	}
	payload, err := call(h, req)
	var st *Status
	switch {
	case err == nil:
		return StatusOK, 0, payload
	case errors.As(err, &st):
		return st.Status, st.Code, []byte(st.Message)
	default:
		return StatusApplicationError, 0, []byte(err.Error())
	}
}

// call runs h, turning a panic into a status 4 error.
func call(h Handler, req []byte) (payload []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Status{Status: StatusPanic, Message: fmt.Sprintf("handler panicked: %v", r)}
		}
	}()
	return h(req)
}

func (m *MasterPeer) respond(c net.Conn, status uint8, code uint32, payload []byte) bool {
	b := appendResponseHeader(nil, status, code, uint64(len(payload)))
	return m.write(c, append(b, payload...))
}

func (m *MasterPeer) write(c net.Conn, b []byte) bool {
	_ = c.SetWriteDeadline(time.Now().Add(masterIOTimeout))
	_, err := c.Write(b)
	return err == nil
}

// read fills b within the deadline. A read that stops part way through a
// frame is a violation; one that gets nothing (the slave left or was idle
// too long) is not.
func (m *MasterPeer) read(c net.Conn, b []byte, what string) bool {
	_ = c.SetReadDeadline(time.Now().Add(masterIOTimeout))
	n, err := io.ReadFull(c, b)
	if err != nil && n > 0 {
		m.violation("truncated %s: %d of %d bytes: %v", what, n, len(b), err)
	}
	return err == nil
}

// SlaveConn is a version 1 slave connection. Calls on it are serialized:
// one call at a time, as version 1 requires. After a network or protocol
// error it is closed and every later call fails.
type SlaveConn struct {
	c   net.Conn
	mu  sync.Mutex // serializes calls; guards err
	err error      // set once the connection is unusable
}

// Dial opens a v1 slave connection to addr (bounded: 5 s connect+handshake),
// returning an error for a master preface with version != 1 or non-OK
// status.
func Dial(addr string) (*SlaveConn, error) {
	deadline := time.Now().Add(slaveIOTimeout)
	c, err := net.DialTimeout("tcp", addr, slaveIOTimeout)
	if err != nil {
		return nil, fmt.Errorf("v1peer: dial %s: %w", addr, err)
	}
	if err := slaveHandshake(c, deadline); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("v1peer: handshake with %s: %w", addr, err)
	}
	return &SlaveConn{c: c}, nil
}

// slaveHandshake writes the slave preface, then reads and checks the
// master's.
func slaveHandshake(c net.Conn, deadline time.Time) error {
	_ = c.SetDeadline(deadline)
	if _, err := c.Write(appendPreface(nil, Version, 0)); err != nil {
		return err
	}
	var b [PrefaceSize]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return fmt.Errorf("reading the master preface: %w", err)
	}
	version, status, err := parsePreface(b[:])
	switch {
	case err != nil:
		return err
	case version != Version:
		return fmt.Errorf("master speaks protocol version %d, this peer speaks only %d", version, Version)
	case status != PrefaceOK:
		return fmt.Errorf("master preface status %d (%s)", status, prefaceStatusName(status))
	}
	return c.SetDeadline(time.Time{})
}

func prefaceStatusName(s uint16) string {
	switch s {
	case PrefaceOverloaded:
		return "overloaded"
	case PrefaceShuttingDown:
		return "shutting down"
	}
	return "unknown"
}

// Call sends one request and reads its response; every network wait
// bounded by a 5 s deadline (or the timeout if larger). The timeout goes
// into the request header (0 means none). A response that is not ok is
// returned in Response with a nil error; the error is for network and
// protocol failures only.
func (s *SlaveConn) Call(method string, req []byte, timeout time.Duration) (Response, error) {
	if timeout < 0 {
		return Response{}, fmt.Errorf("v1peer: negative timeout %v", timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Response{}, s.err
	}
	resp, err := s.roundTrip(MethodID(method), req, timeout)
	if err != nil {
		s.err = fmt.Errorf("v1peer: connection closed after an earlier error: %w", err)
		_ = s.c.Close()
		return Response{}, fmt.Errorf("v1peer: call %q: %w", method, err)
	}
	return resp, nil
}

func (s *SlaveConn) roundTrip(id uint64, req []byte, timeout time.Duration) (Response, error) {
	wait := max(slaveIOTimeout, timeout)
	h := requestHeader{Method: id, Length: uint64(len(req)), Timeout: uint64(timeout)}
	_ = s.c.SetWriteDeadline(time.Now().Add(wait))
	if _, err := s.c.Write(append(appendRequestHeader(nil, h), req...)); err != nil {
		return Response{}, err
	}
	return s.readResponse(wait)
}

// readResponse reads one response, each read bounded by wait.
func (s *SlaveConn) readResponse(wait time.Duration) (Response, error) {
	var b [ResponseHeaderSize]byte
	_ = s.c.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(s.c, b[:]); err != nil {
		return Response{}, fmt.Errorf("reading the response header: %w", err)
	}
	rh := parseResponseHeader(b[:])
	if rh.Reserved != 0 {
		return Response{}, fmt.Errorf("response reserved bits %#06x, want 0", rh.Reserved)
	}
	if rh.Length > MaxResponse {
		return Response{}, fmt.Errorf("response of %d bytes exceeds the limit of %d bytes", rh.Length, MaxResponse)
	}
	payload := make([]byte, rh.Length)
	_ = s.c.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(s.c, payload); err != nil {
		return Response{}, fmt.Errorf("reading the response payload: %w", err)
	}
	return Response{Status: rh.Status, Code: rh.Code, Payload: payload}, nil
}

// Close closes the connection, interrupting a call in progress; calls
// after it fail.
func (s *SlaveConn) Close() error { return s.c.Close() }
