package module

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
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
	FastRpcModule() Info
}

// Info describes a module type.
type Info struct {
	// ID is the module's namespaced ID.
	ID ID
	// New returns a new, unconfigured value (normally a pointer) of the
	// module's type, ready for its JSON config to be decoded into.
	New func() Module
}

// Provisioner is implemented by modules that need set-up after their
// config is decoded: filling defaults, opening files, loading other
// modules.
type Provisioner interface {
	Provision(ctx context.Context) error
}

// Validator is implemented by modules that check their config. Errors
// should name the offending field.
type Validator interface {
	Validate() error
}

// CleanerUpper is implemented by modules holding resources; Cleanup runs
// once when whatever loaded the module closes.
type CleanerUpper interface {
	Cleanup() error
}

// ErrNotFound is matched (errors.Is) by lookups of unregistered IDs.
var ErrNotFound = errors.New("module not registered")

var (
	mu       sync.RWMutex
	registry = map[ID]Info{}
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
		panic(fmt.Sprintf("module: Register %q: Info.New is nil", info.ID))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[info.ID]; dup {
		panic(fmt.Sprintf("module: Register called twice for %q", info.ID))
	}
	registry[info.ID] = info
}

// Lookup returns the module registered under id. A missing ID is an error
// matching ErrNotFound that lists the IDs known in its namespace.
func Lookup(id ID) (Info, error) {
	mu.RLock()
	info, ok := registry[id]
	mu.RUnlock()
	if ok {
		return info, nil
	}
	var known []string
	for _, i := range Namespace(id.Namespace()) {
		known = append(known, string(i.ID))
	}
	if len(known) == 0 {
		return Info{}, fmt.Errorf("module %q: %w; no module is registered in namespace %q (missing a blank import?)", id, ErrNotFound, id.Namespace())
	}
	return Info{}, fmt.Errorf("module %q: %w; known: %s", id, ErrNotFound, strings.Join(known, ", "))
}

// Namespace returns the modules registered directly in namespace ns,
// sorted by ID.
func Namespace(ns string) []Info {
	var out []Info
	for _, i := range All() {
		if i.ID.Namespace() == ns {
			out = append(out, i)
		}
	}
	return out
}

// All returns every registered module, sorted by ID: for tools and
// debugging.
func All() []Info {
	mu.RLock()
	out := make([]Info, 0, len(registry))
	for _, i := range registry {
		out = append(out, i)
	}
	mu.RUnlock()
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// New returns a provisioned, validated module of namespace ns named name,
// configured with its zero value plus defaults from Provision.
func New(ctx context.Context, ns, name string) (Module, error) {
	return Load(ctx, ns, json.RawMessage(fmt.Sprintf(`{"module":%q}`, name)))
}

// Load builds a module of namespace ns from a JSON object whose "module"
// field names it; the object's other fields are decoded strictly (unknown
// fields are errors) into a new value of the module's type. Then Provision
// and Validate run if the module has them. Errors say which module and
// which field.
func Load(ctx context.Context, ns string, raw json.RawMessage) (Module, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("module config for %q: %w", ns, err)
	}
	var name string
	if err := json.Unmarshal(fields["module"], &name); err != nil || name == "" {
		return nil, fmt.Errorf("module config for %q: a \"module\" field naming the module is required", ns)
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
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(one))
		dec.DisallowUnknownFields()
		if err := dec.Decode(m); err != nil {
			return nil, fmt.Errorf("module %q: config field %q: %w", id, k, err)
		}
	}
	if p, ok := m.(Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return nil, fmt.Errorf("module %q: provision: %w", id, err)
		}
	}
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			cleanup(m)
			return nil, fmt.Errorf("module %q: invalid config: %w", id, err)
		}
	}
	return m, nil
}

// LoadAs is Load checking that the module implements T, the interface the
// caller consumes.
func LoadAs[T any](ctx context.Context, ns string, raw json.RawMessage) (T, error) {
	var zero T
	m, err := Load(ctx, ns, raw)
	if err != nil {
		return zero, err
	}
	t, ok := m.(T)
	if !ok {
		cleanup(m)
		return zero, fmt.Errorf("module %q does not implement %T", m.FastRpcModule().ID, (*T)(nil))
	}
	return t, nil
}

// Cleanup runs m's Cleanup if it has one.
func Cleanup(m any) error {
	if c, ok := m.(CleanerUpper); ok {
		return c.Cleanup()
	}
	return nil
}

func cleanup(m any) { _ = Cleanup(m) }

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
			return fmt.Errorf("duration %q: %w (use a form like \"1.5s\" or \"250ms\")", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration %s: want a string like \"1.5s\" or a number of nanoseconds", b)
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
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// Loaded collects the modules built for one owner (a master, a slave) so
// they are cleaned up together: on a failed load, or when the owner closes.
// The zero value is ready to use; it is not safe for concurrent use.
type Loaded struct {
	mods []any
}

// Add records m.
func (l *Loaded) Add(m any) { l.mods = append(l.mods, m) }

// Cleanup runs Cleanup on every recorded module that has one, once.
func (l *Loaded) Cleanup() error {
	var errs []error
	for _, m := range l.mods {
		errs = append(errs, Cleanup(m))
	}
	l.mods = nil
	return errors.Join(errs...)
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
