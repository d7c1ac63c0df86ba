package module_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/AmanTrance/FastRpc/module"
)

// Shouter is the interface of an "example.shouter" namespace: what a
// program that consumes its modules calls them for.
type Shouter interface {
	Shout(s string) string
}

// Upper is a third-party module, "example.shouter.upper", configured from
// JSON such as {"module": "upper", "suffix": "!"}.
type Upper struct {
	Suffix string `json:"suffix"`
}

// FastRpcModule registers Upper in the "example.shouter" namespace.
func (*Upper) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: "example.shouter.upper", New: func() module.Module { return new(Upper) }}
}

// Provision fills defaults.
func (u *Upper) Provision(context.Context) error {
	if u.Suffix == "" {
		u.Suffix = "!"
	}
	return nil
}

// Validate checks the config, naming the field at fault.
func (u *Upper) Validate() error {
	if len(u.Suffix) > 3 {
		return errors.New("suffix: at most 3 characters")
	}
	return nil
}

// Cleanup releases what Provision set up; the owner's Loader runs it.
func (u *Upper) Cleanup() error {
	fmt.Printf("cleanup: upper %q\n", u.Suffix)
	return nil
}

// Shout implements Shouter.
func (u *Upper) Shout(s string) string { return strings.ToUpper(s) + u.Suffix }

func init() { module.Register(new(Upper)) }

// A third-party module, registered from an init function, loaded from
// JSON by a Loader that cleans up everything it loaded when its owner is
// done, in reverse order of loading.
func ExampleLoadAs() {
	l := module.NewLoader(context.Background())
	defer l.Cleanup()

	for _, raw := range []string{
		`{"module": "upper"}`,
		`{"module": "upper", "suffix": "?!"}`,
		`{"module": "upper", "suffix": "!!!!"}`,
		`{"module": "upper", "sufix": "."}`,
		`{"module": "lower"}`,
	} {
		s, err := module.LoadAs[Shouter](l, "example.shouter", json.RawMessage(raw))
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s.Shout("hello"))
	}
	// Output:
	// HELLO!
	// HELLO?!
	// cleanup: upper "!!!!"
	// fastrpc: module "example.shouter.upper": invalid config: suffix: at most 3 characters
	// fastrpc: module "example.shouter.upper": config field "sufix": json: unknown field "sufix"
	// fastrpc: module "example.shouter.lower" not registered; known in namespace "example.shouter": example.shouter.upper; a module is registered by importing its package (a blank import will do)
	// cleanup: upper "?!"
	// cleanup: upper "!"
}

// Listing what is registered in a namespace, as a tool or an error
// message would.
func ExampleNamespace() {
	for _, info := range module.Namespace("example.shouter") {
		fmt.Println(info.ID, "is", info.ID.Name(), "in", info.ID.Namespace())
	}
	// Output:
	// example.shouter.upper is upper in example.shouter
}

// Durations in a module's config read as strings such as "1.5s", or as
// numbers of nanoseconds.
func ExampleDuration() {
	var cfg struct {
		Timeout module.Duration `json:"timeout"`
		Idle    module.Duration `json:"idle"`
	}
	if err := json.Unmarshal([]byte(`{"timeout": "1.5s", "idle": 250000000}`), &cfg); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Timeout.D(), cfg.Idle.D(), cfg.Timeout.D() > time.Second)
	out, _ := json.Marshal(cfg)
	fmt.Println(string(out))
	fmt.Println(json.Unmarshal([]byte(`{"timeout": "soon"}`), &cfg))
	// Output:
	// 1.5s 250ms true
	// {"timeout":"1.5s","idle":"250ms"}
	// fastrpc: duration "soon": time: invalid duration "soon" (use a form like "1.5s" or "250ms")
}
