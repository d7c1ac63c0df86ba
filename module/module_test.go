package module_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/module"
)

type greeter interface{ Greet() string }

// widget is a test module with every optional step.
type widget struct {
	Greeting string `json:"greeting"`
	Times    int    `json:"times"`

	provisioned bool
	cleaned     *bool
}

func (*widget) FastRpcModule() module.Info {
	return module.Info{ID: "testns.widget", New: func() module.Module { return new(widget) }}
}

func (w *widget) Provision(context.Context) error {
	if w.Times == 0 {
		w.Times = 1
	}
	w.provisioned = true
	w.cleaned = new(bool)
	return nil
}

func (w *widget) Validate() error {
	if w.Times < 0 {
		return errors.New("times: must not be negative")
	}
	return nil
}

func (w *widget) Cleanup() error { *w.cleaned = true; return nil }

func (w *widget) Greet() string { return w.Greeting }

type plain struct{}

func (plain) FastRpcModule() module.Info {
	return module.Info{ID: "testns.plain", New: func() module.Module { return plain{} }}
}

func init() {
	module.Register(new(widget))
	module.Register(plain{})
}

func TestLoadDecodesProvisionsValidates(t *testing.T) {
	m, err := module.Load(context.Background(), "testns", json.RawMessage(`{"module":"widget","greeting":"hi"}`))
	require.NoError(t, err)
	w := m.(*widget)
	assert.Equal(t, "hi", w.Greeting)
	assert.Equal(t, 1, w.Times, "Provision filled the default")
	assert.True(t, w.provisioned)
	require.NoError(t, module.Cleanup(m))
	assert.True(t, *w.cleaned)
	assert.NoError(t, module.Cleanup(plain{}), "modules without Cleanup are fine")
}

func TestLoadErrorsNameTheProblem(t *testing.T) {
	ctx := context.Background()
	_, err := module.Load(ctx, "testns", json.RawMessage(`{"module":"widget","greting":"hi"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"greting"`, "unknown fields are named")
	assert.Contains(t, err.Error(), "testns.widget")

	_, err = module.Load(ctx, "testns", json.RawMessage(`{"module":"widget","times":-1}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "times")

	_, err = module.Load(ctx, "testns", json.RawMessage(`{"module":"widget","times":"x"}`))
	require.Error(t, err)

	_, err = module.Load(ctx, "testns", json.RawMessage(`{"greeting":"hi"}`))
	require.ErrorContains(t, err, `"module" field`)

	_, err = module.Load(ctx, "testns", json.RawMessage(`[1,2]`))
	require.Error(t, err)
}

func TestLookupMissingListsKnown(t *testing.T) {
	_, err := module.Lookup("testns.gadget")
	require.ErrorIs(t, err, module.ErrNotFound)
	assert.Contains(t, err.Error(), "testns.plain")
	assert.Contains(t, err.Error(), "testns.widget")

	_, err = module.Lookup("nowhere.thing")
	require.ErrorIs(t, err, module.ErrNotFound)
	assert.Contains(t, err.Error(), "blank import")
}

func TestRegisterPanics(t *testing.T) {
	assert.PanicsWithValue(t, `module: Register called twice for "testns.widget"`, func() { module.Register(new(widget)) })
	for _, id := range []module.ID{"", "nonamespace", "bad..label", "Upper.case", "sp ace.x"} {
		assert.Panics(t, func() { module.Register(badID(id)) }, "ID %q", id)
	}
	assert.Panics(t, func() { module.Register(nilNew{}) })
}

type badID module.ID

func (b badID) FastRpcModule() module.Info {
	return module.Info{ID: module.ID(b), New: func() module.Module { return b }}
}

type nilNew struct{}

func (nilNew) FastRpcModule() module.Info { return module.Info{ID: "testns.nil_new"} }

func TestListing(t *testing.T) {
	ids := func(infos []module.Info) (out []module.ID) {
		for _, i := range infos {
			out = append(out, i.ID)
		}
		return out
	}
	assert.Equal(t, []module.ID{"testns.plain", "testns.widget"}, ids(module.Namespace("testns")))
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
}

func TestLoadAsAndNew(t *testing.T) {
	g, err := module.LoadAs[greeter](context.Background(), "testns", json.RawMessage(`{"module":"widget","greeting":"yo"}`))
	require.NoError(t, err)
	assert.Equal(t, "yo", g.Greet())

	_, err = module.LoadAs[greeter](context.Background(), "testns", json.RawMessage(`{"module":"plain"}`))
	require.ErrorContains(t, err, "does not implement")

	m, err := module.New(context.Background(), "testns", "widget")
	require.NoError(t, err)
	assert.Equal(t, 1, m.(*widget).Times)
}

func TestDuration(t *testing.T) {
	var v struct {
		A module.Duration `json:"a"`
		B module.Duration `json:"b"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"a":"1.5s","b":250}`), &v))
	assert.Equal(t, module.Duration(1500*time.Millisecond), v.A)
	assert.Equal(t, module.Duration(250), v.B)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":"1.5s","b":"250ns"}`, string(out))
	require.ErrorContains(t, json.Unmarshal([]byte(`{"a":"soon"}`), &v), `"soon"`)
	require.Error(t, json.Unmarshal([]byte(`{"a":true}`), &v))
}

func TestDecodeStrictAndLoaded(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	require.NoError(t, module.DecodeStrict([]byte(`{"a": 1}`), &v))
	assert.Equal(t, 1, v.A)
	require.ErrorContains(t, module.DecodeStrict([]byte(`{"b": 1}`), &v), `"b"`)
	require.ErrorContains(t, module.DecodeStrict([]byte(`{"a": 1} {"a": 2}`), &v), "trailing")

	var l module.Loaded
	w1, err := module.New(context.Background(), "testns", "widget")
	require.NoError(t, err)
	w2, err := module.New(context.Background(), "testns", "widget")
	require.NoError(t, err)
	l.Add(w1)
	l.Add(plain{})
	l.Add(w2)
	require.NoError(t, l.Cleanup())
	assert.True(t, *w1.(*widget).cleaned)
	assert.True(t, *w2.(*widget).cleaned)
	require.NoError(t, l.Cleanup(), "a second Cleanup has nothing left to do")
}
