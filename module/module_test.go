package module_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/module"
)

type greeter interface{ Greet() string }

// counts records what happened to the widgets of one test, by greeting.
type counts struct {
	provisions, cleanups map[string]int
	order                []string // greetings, in the order cleaned up
}

var current *counts

func track(t *testing.T) *counts {
	c := &counts{provisions: map[string]int{}, cleanups: map[string]int{}}
	current = c
	t.Cleanup(func() { current = nil })
	return c
}

// widget is a test module with every optional step. Its Provision fails
// when FailProvision is set, its Validate when Times is negative, and its
// Cleanup when FailCleanup is set.
type widget struct {
	Greeting      string `json:"greeting"`
	Times         int    `json:"times"`
	FailProvision bool   `json:"fail_provision"`
	FailCleanup   bool   `json:"fail_cleanup"`
}

func (*widget) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "testns.widget", New: func() module.Module { return new(widget) }}
}

func (w *widget) Provision(context.Context) error {
	current.provisions[w.Greeting]++
	if w.FailProvision {
		return errors.New("no provisions today")
	}
	if w.Times == 0 {
		w.Times = 1
	}
	return nil
}

func (w *widget) Validate() error {
	if w.Times < 0 {
		return errors.New("times: must not be negative")
	}
	return nil
}

func (w *widget) Cleanup() error {
	current.cleanups[w.Greeting]++
	current.order = append(current.order, w.Greeting)
	if w.FailCleanup {
		return errors.New("fastrpc: stuck " + w.Greeting)
	}
	return nil
}

func (w *widget) Greet() string { return w.Greeting }

// plain has no optional step and does not greet.
type plain struct{}

func (plain) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "testns.plain", New: func() module.Module { return plain{} }}
}

// mute has a Cleanup but does not greet.
type mute struct{}

func (*mute) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "testns.mute", New: func() module.Module { return new(mute) }}
}

func (*mute) Cleanup() error { current.cleanups["mute"]++; return nil }

// loggerProbe records the logger its Provision's context carries.
type loggerProbe struct{ got *slog.Logger }

func (*loggerProbe) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "testns.logger_probe", New: func() module.Module { return new(loggerProbe) }}
}

func (p *loggerProbe) Provision(ctx context.Context) error {
	p.got = module.LoggerFrom(ctx)
	return nil
}

func init() {
	module.Register(new(widget))
	module.Register(plain{})
	module.Register(new(mute))
	module.Register(new(loggerProbe))
}

func load(l *module.Loader, raw string) (greeter, error) {
	return module.LoadAs[greeter](l, "testns", json.RawMessage(raw))
}

func TestLoadAsDecodesProvisionsValidates(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	g, err := load(l, `{"module":"widget","greeting":"hi"}`)
	require.NoError(t, err)
	w := g.(*widget)
	assert.Equal(t, "hi", w.Greeting)
	assert.Equal(t, 1, w.Times, "Provision filled the default")
	assert.Equal(t, 1, c.provisions["hi"])
	assert.Zero(t, c.cleanups["hi"], "a loaded module is cleaned up by its loader only")

	byName, err := load(l, `{"module":"widget"}`)
	require.NoError(t, err, "a module loads by name alone")
	assert.Equal(t, 1, byName.(*widget).Times)

	require.NoError(t, l.Cleanup())
	assert.Equal(t, 1, c.cleanups["hi"])
	assert.Equal(t, 1, c.cleanups[""])
}

func TestLoadAsCleansUpAfterFailedProvision(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	_, err := load(l, `{"module":"widget","greeting":"p","fail_provision":true}`)
	require.ErrorContains(t, err, `fastrpc: module "testns.widget": provision: no provisions today`)
	assert.Equal(t, 1, c.cleanups["p"], "Cleanup runs after a failed Provision")

	require.NoError(t, l.Cleanup())
	assert.Equal(t, 1, c.cleanups["p"], "and the loader did not record the module")
}

func TestLoadAsCleansUpAfterFailedValidate(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	_, err := load(l, `{"module":"widget","greeting":"v","times":-1}`)
	require.ErrorContains(t, err, `module "testns.widget": invalid config: times: must not be negative`)
	assert.Equal(t, 1, c.provisions["v"])
	assert.Equal(t, 1, c.cleanups["v"], "Cleanup runs after a failed Validate")

	require.NoError(t, l.Cleanup())
	assert.Equal(t, 1, c.cleanups["v"], "and the loader did not record the module")
}

func TestLoadAsCleansUpWhatIsNotT(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	_, err := load(l, `{"module":"mute"}`)
	require.EqualError(t, err, `fastrpc: module "testns.mute" (*module_test.mute) does not implement module_test.greeter`)
	assert.Equal(t, 1, c.cleanups["mute"], "a module that is not a T is cleaned up")
	_, err = load(l, `{"module":"plain"}`)
	require.ErrorContains(t, err, "does not implement", "with or without a Cleanup")

	require.NoError(t, l.Cleanup())
	assert.Equal(t, 1, c.cleanups["mute"], "and the loader did not record it")
}

func TestLoaderCleansUpEverythingOnceInReverse(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	for _, g := range []string{"a", "b", "c"} {
		_, err := load(l, `{"module":"widget","greeting":"`+g+`"}`)
		require.NoError(t, err)
	}
	_, err := module.LoadAs[any](l, "testns", json.RawMessage(`{"module":"plain"}`))
	require.NoError(t, err, "modules without a Cleanup are recorded too")
	_, err = load(l, `{"module":"widget","greeting":"late","fail_provision":true}`)
	require.Error(t, err, "a later load fails...")

	require.NoError(t, l.Cleanup(), "...and the owner still cleans up what was loaded")
	assert.Equal(t, []string{"late", "c", "b", "a"}, c.order, "the failed one at once, then the rest in reverse order of loading")
	require.NoError(t, l.Cleanup())
	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1, "late": 1}, c.cleanups, "each Cleanup runs once")

	var nilLoader *module.Loader
	require.NoError(t, nilLoader.Cleanup(), "a nil Loader has nothing to clean up")
}

func TestLoaderCleanupErrors(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	for _, raw := range []string{
		`{"module":"widget","greeting":"x","fail_cleanup":true}`,
		`{"module":"widget","greeting":"ok"}`,
		`{"module":"widget","greeting":"y","fail_cleanup":true}`,
	} {
		_, err := load(l, raw)
		require.NoError(t, err)
	}
	err := l.Cleanup()
	require.EqualError(t, err, `fastrpc: module "testns.widget": cleanup: stuck y; module "testns.widget": cleanup: stuck x`,
		"every error, with one prefix")
	assert.Equal(t, []string{"y", "ok", "x"}, c.order, "a failing Cleanup does not stop the others")

	_, err = load(l, `{"module":"widget","greeting":"z","times":-1,"fail_cleanup":true}`)
	require.EqualError(t, err, `fastrpc: module "testns.widget": invalid config: times: must not be negative; then module "testns.widget": cleanup: stuck z`)
}

func TestLoadAsErrorsNameTheProblem(t *testing.T) {
	c := track(t)
	l := module.NewLoader(context.Background())
	for raw, want := range map[string]string{
		`{"module":"widget","greting":"hi"}`: `fastrpc: module "testns.widget": config field "greting": json: unknown field "greting"`,
		`{"module":"widget","times":"x"}`:    `fastrpc: module "testns.widget": config field "times": json: cannot unmarshal string`,
		`{"greeting":"hi"}`:                  `fastrpc: module config in namespace "testns": a "module" field naming the module is required`,
		`{"module":7}`:                       `a "module" field naming the module is required`,
		`null`:                               `a "module" field naming the module is required`,
		`[1,2]`:                              `fastrpc: module config in namespace "testns": want a JSON object: json: cannot unmarshal array`,
		`{"module":"a.b"}`:                   `module name "a.b": use a-z, 0-9 and _ only`,
		`{"module":"gadget"}`:                `fastrpc: module "testns.gadget" not registered; known in namespace "testns": testns.logger_probe, testns.mute, testns.plain, testns.widget`,
	} {
		_, err := load(l, raw)
		require.ErrorContains(t, err, want, raw)
		assert.NotContains(t, err.Error()[len("fastrpc: "):], "fastrpc: ", "one prefix: %s", raw)
	}
	assert.Empty(t, c.provisions, "nothing was provisioned")
	assert.Empty(t, c.cleanups, "a module whose config did not decode is not cleaned up")
}

func TestLookupMissingListsKnown(t *testing.T) {
	_, err := module.Lookup("testns.gadget")
	require.ErrorIs(t, err, module.ErrNotFound)
	assert.Equal(t, "fastrpc: module not registered", module.ErrNotFound.Error())
	assert.EqualError(t, err, `fastrpc: module "testns.gadget" not registered; known in namespace "testns": testns.logger_probe, testns.mute, testns.plain, testns.widget; a module is registered by importing its package (a blank import will do)`)

	_, err = module.Lookup("nowhere.thing")
	require.ErrorIs(t, err, module.ErrNotFound)
	assert.Contains(t, err.Error(), "blank import")

	_, err = module.Lookup("other.widget")
	require.ErrorIs(t, err, module.ErrNotFound)
	assert.Contains(t, err.Error(), "(in other namespaces: testns.widget)", "a module of that name elsewhere is pointed out")
}

func TestRegisterPanics(t *testing.T) {
	assert.PanicsWithValue(t, `module: Register called twice for "testns.widget"`, func() { module.Register(new(widget)) })
	for _, id := range []module.ID{"", "nonamespace", "bad..label", "Upper.case", "sp ace.x"} {
		assert.Panics(t, func() { module.Register(badID(id)) }, "ID %q", id)
	}
	assert.Panics(t, func() { module.Register(nilNew{}) })
}

type badID module.ID

func (b badID) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.ID(b), New: func() module.Module { return b }}
}

type nilNew struct{}

func (nilNew) FastRpcModule() module.ModuleInfo { return module.ModuleInfo{ID: "testns.nil_new"} }

func TestListing(t *testing.T) {
	ids := func(infos []module.ModuleInfo) (out []module.ID) {
		for _, i := range infos {
			out = append(out, i.ID)
		}
		return out
	}
	assert.Equal(t, []module.ID{"testns.logger_probe", "testns.mute", "testns.plain", "testns.widget"}, ids(module.Namespace("testns")))
	assert.Subset(t, ids(module.All()), []module.ID{"testns.plain", "testns.widget"})
	assert.IsNonDecreasing(t, func() []string {
		var s []string
		for _, id := range ids(module.All()) {
			s = append(s, string(id))
		}
		return s
	}())
	id := module.ID("a.b.c")
	assert.Equal(t, "a.b", id.Namespace())
	assert.Equal(t, "c", id.Name())
	assert.Equal(t, "", module.ID("c").Namespace())
}

func TestDuration(t *testing.T) {
	var v struct {
		A module.Duration `json:"a"`
		B module.Duration `json:"b"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"a":"1.5s","b":250}`), &v))
	assert.Equal(t, module.Duration(1500*time.Millisecond), v.A)
	assert.Equal(t, module.Duration(250), v.B)
	assert.Equal(t, 1500*time.Millisecond, v.A.D())
	out, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":"1.5s","b":"250ns"}`, string(out))
	require.ErrorContains(t, json.Unmarshal([]byte(`{"a":"soon"}`), &v), `fastrpc: duration "soon"`)
	require.ErrorContains(t, json.Unmarshal([]byte(`{"a":true}`), &v), "fastrpc: duration true")
}

func TestDecodeStrict(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	require.NoError(t, module.DecodeStrict([]byte(`{"a": 1}`), &v))
	assert.Equal(t, 1, v.A)
	require.EqualError(t, module.DecodeStrict([]byte(`{"b": 1}`), &v), `fastrpc: json: unknown field "b"`)
	require.EqualError(t, module.DecodeStrict([]byte(`{"a": 1} {"a": 2}`), &v), "fastrpc: trailing data after the JSON document")
}

func TestLoggerTravelsToProvision(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	ctx := module.ContextWithLogger(context.Background(), logger)
	l := module.NewLoader(ctx)
	m, err := module.LoadAs[*loggerProbe](l, "testns", json.RawMessage(`{"module":"logger_probe"}`))
	require.NoError(t, err)
	assert.Same(t, logger, m.got, "Provision receives the Loader's context")
	assert.Nil(t, module.LoggerFrom(context.Background()))
}
