// Package module is FastRpc's registry of pluggable parts, in the style of
// Caddy's modules: codecs, dialers, listeners, connection pools, middleware
// and resolvers each register under a namespaced ID such as
// "codec.msgpack" or "pool.puddle", and are picked by name from code or
// from a JSON config.
//
// A module registers itself from an init function with Register; a
// duplicate or malformed ID panics at start-up, as database/sql.Register
// does. A third party adds a module from its own package, which users
// enable with a blank import; nothing in FastRpc is edited.
//
// Load builds a module from JSON such as {"module": "puddle", "max_size":
// 8}: the object decodes strictly into a new value of the module's type,
// then the optional Provision and Validate steps run. Cleanup, when a module
// has it, runs when whatever loaded it closes.
//
// This package holds the registry and the loading rules only; what a
// namespace's modules must implement is defined by the package that
// consumes them (for example package codec for "codec.*").
package module
