package module

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/AmanTrance/FastRpc/internal/errtext"
)

// ID identifies a module: dot-separated labels of lower-case letters,
// digits and underscores. The last label is the module's name, the labels
// before it its namespace: "codec.msgpack" is "msgpack" in "codec".
type ID string

// Namespace returns all but the last label ("" when there is one label).
func (id ID) Namespace() string {
	if i := strings.LastIndexByte(string(id), '.'); i >= 0 {
		return string(id[:i])
	}
	return ""
}

// Name returns the last label.
func (id ID) Name() string {
	return string(id[strings.LastIndexByte(string(id), '.')+1:])
}

func (id ID) valid() error {
	if id == "" {
		return errors.New("empty ID")
	}
	for _, label := range strings.Split(string(id), ".") {
		if label == "" {
			return fmt.Errorf("ID %q has an empty label", id)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				return fmt.Errorf("ID %q: labels use a-z, 0-9 and _ only", id)
			}
		}
	}
	return nil
}

// Module is implemented by every module type.
type Module interface {
	// FastRpcModule describes the module. It is called on a zero value and
	// must not depend on its fields.
	FastRpcModule() ModuleInfo
}

// ModuleInfo describes a module type.
type ModuleInfo struct {
	// ID is the module's namespaced ID.
	ID ID
	// New returns a new, unconfigured value (normally a pointer) of the
	// module's type, ready for its JSON config to be decoded into.
	New func() Module
}

// Provisioner is implemented by modules that need set-up after their
// config is decoded: filling defaults, opening files, loading other
// modules (with a Loader of their own, cleaned up by their Cleanup). ctx
// is the Loader's.
type Provisioner interface {
	Provision(ctx context.Context) error
}

// Validator is implemented by modules that check their config. Errors
// should name the offending field.
type Validator interface {
	Validate() error
}

// CleanerUpper is implemented by modules holding resources. Cleanup runs
// once for every module whose config LoadAs decoded: by LoadAs itself when
// Provision, Validate or the interface check fails (so Cleanup must cope
// with a module set up only in part), or else by the Loader's Cleanup when
// whatever loaded the module closes. A module whose config did not decode
// was never set up, and is not cleaned up.
type CleanerUpper interface {
	Cleanup() error
}

// Namespaces of the modules FastRpc loads. Each namespace has one
// interface, defined by the package that consumes its modules, and every
// module registered in it must implement that interface: the consumer
// loads with LoadAs[Interface], and a module that does not implement it
// is an error.
const (
	// NamespaceCodec holds codecs ("codec.msgpack"): they implement
	// codec.Codec, and a codec's Name is its module name.
	NamespaceCodec = "codec"
	// NamespaceDialer holds what a slave dials with ("dialer.tcp"): they
	// implement conn.Dialer.
	NamespaceDialer = "dialer"
	// NamespaceListener holds what a master listens with ("listener.tcp"):
	// they implement conn.Listener.
	NamespaceListener = "listener"
	// NamespacePool holds connection pools ("pool.mutex", "pool.puddle"):
	// they implement poolimpl.Module.
	NamespacePool = "pool"
	// NamespaceMasterMiddleware holds a master's handler middleware
	// ("master.middleware.logging"), named in the "middleware" list of a
	// master's JSON config: they implement master.MiddlewareModule.
	NamespaceMasterMiddleware = "master.middleware"
	// NamespaceSlaveMiddleware holds a slave's call middleware
	// ("slave.middleware.logging"), named in the "middleware" list of a
	// slave's JSON config: they implement slave.MiddlewareModule.
	NamespaceSlaveMiddleware = "slave.middleware"
	// NamespaceMasterRegistry holds where a master announces itself
	// ("master.registry.etcd"), named by the "registry" field of a
	// master's JSON config: they implement master.Registry.
	NamespaceMasterRegistry = "master.registry"
	// NamespaceResolver holds what finds the masters behind a name
	// ("resolver.static"): they implement cluster.ResolverModule.
	NamespaceResolver = "resolver"
	// NamespaceBalancer holds how a cluster client spreads calls
	// ("balancer.round_robin"): they implement cluster.BalancerModule.
	NamespaceBalancer = "balancer"
)

// ErrNotFound is matched (errors.Is) by lookups of unregistered IDs.
var ErrNotFound = errors.New("fastrpc: module not registered")

// notFound is the error of a lookup of an unregistered ID: its message
// says which ID and what is known instead.
type notFound struct{ msg string }

func (e *notFound) Error() string        { return e.msg }
func (e *notFound) Is(target error) bool { return target == ErrNotFound }

var (
	mu       sync.RWMutex
	registry = map[ID]ModuleInfo{}
)

// Register adds a module type. It is meant for init functions and panics
// when the ID is malformed, New is nil, or the ID is already registered.
func Register(m Module) {
	info := m.FastRpcModule()
	if err := info.ID.valid(); err != nil {
		panic(fmt.Sprintf("module: Register: %v", err))
	}
	if info.ID.Namespace() == "" {
		panic(fmt.Sprintf("module: Register %q: an ID needs a namespace, such as codec.%s", info.ID, info.ID))
	}
	if info.New == nil {
		panic(fmt.Sprintf("module: Register %q: ModuleInfo.New is nil", info.ID))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[info.ID]; dup {
		panic(fmt.Sprintf("module: Register called twice for %q", info.ID))
	}
	registry[info.ID] = info
}

// Lookup returns the module registered under id. A missing ID is an error
// matching ErrNotFound that lists the IDs known in its namespace, and
// modules of the same name in other namespaces.
func Lookup(id ID) (ModuleInfo, error) {
	mu.RLock()
	info, ok := registry[id]
	mu.RUnlock()
	if ok {
		return info, nil
	}
	var known, elsewhere []string
	for _, i := range All() {
		switch {
		case i.ID.Namespace() == id.Namespace():
			known = append(known, string(i.ID))
		case i.ID.Name() == id.Name():
			elsewhere = append(elsewhere, string(i.ID))
		}
	}
	msg := fmt.Sprintf("%smodule %q not registered", errtext.Prefix, id)
	if len(known) == 0 {
		msg += fmt.Sprintf("; no module is registered in namespace %q (missing a blank import?)", id.Namespace())
	} else {
		msg += fmt.Sprintf("; known in namespace %q: %s", id.Namespace(), strings.Join(known, ", "))
	}
	if len(elsewhere) > 0 {
		msg += fmt.Sprintf(" (in other namespaces: %s)", strings.Join(elsewhere, ", "))
	}
	if len(known) > 0 && len(elsewhere) == 0 {
		// A module registers itself when its package is imported: "pool.puddle"
		// needs _ "github.com/AmanTrance/FastRpc/poolimpl/puddle".
		msg += "; a module is registered by importing its package (a blank import will do)"
	}
	return ModuleInfo{}, &notFound{msg}
}

// Namespace returns the modules registered directly in namespace ns,
// sorted by ID.
func Namespace(ns string) []ModuleInfo {
	var out []ModuleInfo
	for _, i := range All() {
		if i.ID.Namespace() == ns {
			out = append(out, i)
		}
	}
	return out
}

// All returns every registered module, sorted by ID: for tools and
// debugging.
func All() []ModuleInfo {
	mu.RLock()
	out := make([]ModuleInfo, 0, len(registry))
	for _, i := range registry {
		out = append(out, i)
	}
	mu.RUnlock()
	slices.SortFunc(out, func(a, b ModuleInfo) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Loader loads modules for one owner (a master, a slave, a tool) and
// records every module it loads, so that one Cleanup releases them all
// when the owner closes. A Loader is not safe for concurrent use; the zero
// Loader loads with context.Background().
type Loader struct {
	ctx  context.Context
	mods []Module // in the order they were loaded
}

// NewLoader returns a Loader whose modules' Provision receives ctx: the
// logger of ContextWithLogger travels with it.
func NewLoader(ctx context.Context) *Loader {
	return &Loader{ctx: ctx}
}

// LoadAs builds a module of namespace ns from a JSON object whose "module"
// field names it, such as {"module": "puddle", "min_idle": 2}, and returns
// it as T, the interface the caller consumes (see the Namespace
// constants). The object's other fields are decoded strictly (unknown
// fields are errors) into a new value of the module's type; then Provision
// and Validate run if the module has them, and the module must implement
// T. l records the module for its Cleanup. When a step after decoding
// fails, LoadAs runs the module's Cleanup itself and records nothing.
// Errors name the module and the field at fault.
//
// To load a module by name alone, pass {"module": "name"}.
func LoadAs[T any](l *Loader, ns string, raw json.RawMessage) (T, error) {
	var zero T
	m, err := l.build(ns, raw)
	if err != nil {
		return zero, err
	}
	t, ok := m.(T)
	if !ok {
		return zero, failed(m, errtext.Errorf("module %q (%T) does not implement %s",
			m.FastRpcModule().ID, m, reflect.TypeFor[T]()))
	}
	l.mods = append(l.mods, m)
	return t, nil
}

// build decodes, provisions and validates a module, cleaning it up when
// Provision or Validate fails.
func (l *Loader) build(ns string, raw json.RawMessage) (Module, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errtext.Errorf("module config in namespace %q: want a JSON object: %w", ns, err)
	}
	var name string
	if err := json.Unmarshal(fields["module"], &name); err != nil || name == "" {
		return nil, errtext.Errorf("module config in namespace %q: a \"module\" field naming the module is required", ns)
	}
	if ID(name).valid() != nil || strings.Contains(name, ".") {
		return nil, errtext.Errorf("module config in namespace %q: module name %q: use a-z, 0-9 and _ only", ns, name)
	}
	id := ID(ns + "." + name)
	info, err := Lookup(id)
	if err != nil {
		return nil, err
	}
	delete(fields, "module")
	m := info.New()
	// One field at a time, so an error names its field even when a custom
	// unmarshaler's message does not.
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		one, err := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if err != nil {
			return nil, errtext.Errorf("module %q: config field %q: %w", id, k, err)
		}
		dec := json.NewDecoder(bytes.NewReader(one))
		dec.DisallowUnknownFields()
		if err := dec.Decode(m); err != nil {
			return nil, errtext.Errorf("module %q: config field %q: %w", id, k, err)
		}
	}
	if p, ok := m.(Provisioner); ok {
		ctx := l.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if err := p.Provision(ctx); err != nil {
			return nil, failed(m, errtext.Errorf("module %q: provision: %w", id, err))
		}
	}
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, failed(m, errtext.Errorf("module %q: invalid config: %w", id, err))
		}
	}
	return m, nil
}

// failed cleans up m, which failed with err, and returns err, followed by
// Cleanup's error if there is one.
func failed(m Module, err error) error {
	if cerr := cleanup(m); cerr != nil {
		return errtext.Errorf("%w; then %w", err, cerr)
	}
	return err
}

// Cleanup runs the Cleanup of every module l recorded, in reverse order of
// loading, and forgets them: each module's Cleanup runs once, however
// often Cleanup is called. Its error joins those of the modules. A nil
// Loader has nothing to clean up.
func (l *Loader) Cleanup() error {
	if l == nil {
		return nil
	}
	var errs []any
	for i := len(l.mods) - 1; i >= 0; i-- {
		if err := cleanup(l.mods[i]); err != nil {
			errs = append(errs, err)
		}
	}
	l.mods = nil
	if len(errs) == 0 {
		return nil
	}
	// One message with one prefix, wrapping every error.
	return errtext.Errorf(strings.Repeat("; %w", len(errs))[2:], errs...)
}

// cleanup runs m's Cleanup if it has one.
func cleanup(m Module) error {
	c, ok := m.(CleanerUpper)
	if !ok {
		return nil
	}
	if err := c.Cleanup(); err != nil {
		return errtext.Errorf("module %q: cleanup: %w", m.FastRpcModule().ID, err)
	}
	return nil
}

// Duration is a time.Duration that reads from JSON as a string such as
// "1.5s" or "250ms" (time.ParseDuration), or as a number of nanoseconds,
// and writes as a string.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return errtext.Errorf("duration %q: %w (use a form like \"1.5s\" or \"250ms\")", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return errtext.Errorf("duration %s: want a string like \"1.5s\" or a number of nanoseconds", b)
	}
	*d = Duration(n)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// DecodeStrict decodes a JSON document into v, refusing unknown fields and
// trailing data, for configs that name modules.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errtext.Errorf("%w", err)
	}
	if dec.More() {
		return errtext.Errorf("trailing data after the JSON document")
	}
	return nil
}

type loggerKey struct{}

// ContextWithLogger returns ctx carrying logger for the modules loaded with
// it (their Provision reads it with LoggerFrom) and for what FromJSON
// builds, so a program configured from JSON still logs where it wants.
func ContextWithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, logger)
}

// LoggerFrom returns the logger ctx carries, or nil.
func LoggerFrom(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	return l
}
