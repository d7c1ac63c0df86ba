// Package codec turns Go values into request and response payloads for
// FastRpc's typed layer (package typed), and back.
//
// A Codec has a name, which is the encoding a master advertises for a
// method in its capabilities, an Append that encodes into a caller's
// buffer, and an Unmarshal that decodes. Four are built in, each a module
// of package module registered under "codec.<name>":
//
//	name      library                              for
//	msgpack   github.com/vmihailenco/msgpack/v5    compact binary, widely spoken
//	cbor      github.com/fxamacker/cbor/v2         the most compact and fastest; an IETF standard (RFC 8949)
//	json      encoding/json                        readable, spoken everywhere; larger and 2-3x slower
//	raw       none                                 []byte passed through unchanged
//
// For a struct of four fields, encoding plus decoding takes about 0.4 µs
// with cbor, 0.65 µs with msgpack and 1.3 µs with json (BenchmarkCodec);
// a loopback round trip costs about 17 µs on its own.
//
// Lookup finds a codec by name; a name that nobody registered is an error
// listing the known ones. Another package adds a codec by registering a
// module whose type implements Codec, from an init function:
//
//	func init() { module.Register(gobCodec{}) }
//
// Programs that use it import that package (a blank import is enough).
//
// # What each codec keeps
//
// All three structured codecs name struct fields by their json tag when
// there is no codec-specific tag, so one set of tags serves all of them.
// They differ in details:
//
//   - time.Time: the instant survives to the nanosecond in all three. cbor
//     and json keep the UTC offset (RFC 3339 text; cbor under tag 0);
//     msgpack carries the instant only and decodes it in time.Local. The
//     zero time stays zero. No codec carries the monotonic clock reading.
//   - Decoding into any: msgpack gives int64 (or uint64 above MaxInt64),
//     float64 and map[string]any; cbor gives uint64 for non-negative and
//     int64 for negative integers, and map[any]any; json gives float64 for
//     every number and map[string]any.
//   - nil and empty: nil slices, maps and pointers encode as nil (null) and
//     decode as nil; empty ones stay empty and non-nil. Decoding a nil
//     (null) into a value leaves the value as it was, so decode into zero
//     values, as package typed does.
//
// # Hostile input
//
// Unmarshal is meant for bytes from the network. It never panics, never
// recurses without bound, and never allocates from a length the input
// declares without first checking that the input holds that many bytes:
// a 10-byte payload that declares a 2^31-element array costs an error, not
// memory. Nesting is limited to MaxDepth levels (json: 10000) and
// containers to MaxElements entries. msgpack/v5 sizes slices from declared
// lengths, so the msgpack codec scans its input before decoding; cbor's
// decoder checks well-formedness and its limits before decoding; json
// validates before decoding and declares no lengths. What msgpack and cbor
// allocate is bounded (below); json's values take memory in proportion to
// the input, so bound the input (master.Config.MaxRequestSize,
// slave.Config.MaxResponseSize).
//
// Decoded values never alias the input, which callers may reuse at once.
//
// # What decoding costs
//
// Decoding n bytes with msgpack or cbor allocates at most AllocBound(n):
// AllocFactor (32) bytes per byte received plus AllocOverhead (64 KiB),
// whatever the bytes and whatever the target type. Without that bound a
// well-formed payload could cost hundreds of times its size: each one-byte
// empty map in an array becomes a whole struct in a []T (msgpack/v5
// allocates the slice twice), a pointer, a map or an interface box, and
// cbor allocates an error value for every element that does not fit its
// type while it carries on decoding.
//
// Before the library decodes, the codec walks the payload alongside the
// target type and adds up what decoding will allocate: slice backing
// arrays as the library makes them, maps sized as it sizes them, pointers,
// interface boxes, strings, msgpack's scratch buffer, cbor's errors. What
// a type costs is worked out once per type and cached, and the walk
// allocates nothing; payloads too small to exceed the bound whatever they
// hold are not walked at all. A payload whose estimate exceeds the bound
// is refused, before anything of it is decoded, with an error matching
// ErrTooCostly that names the codec, the target type, the estimate, the
// bytes received and the bound.
//
// Ordinary data stays well inside the bound: about 1 byte allocated per
// byte received for []byte and strings, 4 to 6 for slices of structs, 15
// to 18 for documents decoded into any or map[string]any, 16 for a msgpack
// slice of one-byte integers. What the bound refuses is data whose
// elements are far smaller on the wire than in memory: a []T of empty maps
// for a T of a few hundred bytes, a map with one key repeated a million
// times, and the like. TestDecodeAllocBound and FuzzDecodeAllocBound
// measure it.
//
// Types that decode themselves (msgpack.CustomDecoder and Unmarshaler,
// cbor.Unmarshaler, encoding.TextUnmarshaler and BinaryUnmarshaler where
// the libraries use them) are charged for the copies the library makes of
// their bytes; what their own methods allocate is theirs to bound, as is
// what an ext type registered with msgpack.RegisterExt allocates. The json
// codec has no such bound: a []T of 240-byte structs decoded from "{}"
// elements costs about 480 bytes per byte.
//
// # What it is not
//
// It is not a schema system: there is no code generation and no version
// negotiation beyond the encoding name in the capabilities. The raw wire
// path (package master and slave) does not use it at all.
package codec
