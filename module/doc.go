// Package module is FastRpc's registry of pluggable parts, in the style of
// Caddy's modules: codecs, dialers, listeners, connection pools and
// middleware each register under a namespaced ID such as "codec.msgpack"
// or "pool.puddle", and are picked by name from code or from a JSON
// config.
//
// A module registers itself from an init function with Register; a
// duplicate or malformed ID panics at start-up, as database/sql.Register
// does. A third party adds a module from its own package, which users
// enable with a blank import; nothing in FastRpc is edited.
//
// Each namespace has one interface its modules implement, defined by the
// package that consumes them; the Namespace constants name FastRpc's
// namespaces and their interfaces.
//
// A Loader builds modules for one owner (a master, a slave, a tool): LoadAs
// takes JSON such as {"module": "puddle", "min_idle": 2}, decodes it
// strictly into a new value of the module's type, runs the optional
// Provision and Validate steps, checks the interface, and records the
// module. The owner's Loader.Cleanup, when it closes, runs every recorded
// module's Cleanup; a module that fails to load is cleaned up at once.
//
// This package holds the registry and the loading rules only.
package module
