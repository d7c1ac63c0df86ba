// Command fastrpc talks to FastRpc masters from the shell: it lists what a
// master serves, calls its methods, and runs a demo master to try both on.
//
// Install it with
//
//	go install github.com/AmanTrance/FastRpc/cmd/fastrpc@latest
//
// or, from a checkout, go install ./cmd/fastrpc (go run ./cmd/fastrpc works
// too). Then:
//
//	fastrpc serve                                   # a demo master on 127.0.0.1:10000
//	fastrpc caps 127.0.0.1:10000                    # its methods, descriptions, encodings
//	fastrpc call 127.0.0.1:10000 add -d '{"a": 1, "b": 2}'
//	fastrpc call 127.0.0.1:10000 stream -d 64MiB -o big.bin
//	fastrpc bench 127.0.0.1:10000 echo -c 32 -z 10s --size 1KiB
//	fastrpc modules                                 # codecs, dialers, pools, ... in this build
//
// The subcommands:
//
//   - serve runs a demo master with one method of each kind: raw bytes
//     (echo, sha256), each built-in codec (add: msgpack, stats: cbor,
//     greet: json, registered with package typed so that their capabilities
//     advertise the codec), a slow method and a streamed response. SIGINT
//     or SIGTERM shuts it down gracefully; a second one stops it at once.
//   - caps prints a master's capabilities as an aligned table, or as JSON
//     with --json.
//   - call calls one method. A method whose capabilities advertise a codec
//     takes JSON, which the tool encodes with that codec, and its response
//     is printed as indented JSON, without loss (exact integers, byte
//     strings as base64); any other method (and
//     every method with --raw) takes and returns bytes unchanged, streamed
//     with bounded memory whatever their size.
//   - bench is a load generator: -c callers over --connections connections
//     call one method -n times or for -z, optionally at --rps, and it
//     reports calls/s, latency percentiles from an HDR histogram, a
//     histogram and the errors by kind, as text or --json, with a live
//     progress line on a terminal; --html FILE also writes them as a
//     self-contained HTML page with inline SVG charts. Its --timeout bounds
//     each call.
//   - modules lists the modules (codecs, dialers, listeners, pools,
//     middleware) registered in this build, by namespace.
//
// Commands that dial take --config FILE, the JSON of slave.FromJSON (dialer,
// TLS, pool, limits), and the shortcuts --tls, --tls-ca, --tls-cert,
// --tls-key and --server-name for a TLS dialer, and -H KEY=VALUE for
// metadata sent with every call (protocol version 2; a bearer token, say).
// Every network wait is bounded by --timeout (10s by default).
//
// The exit status tells a script what happened: 0 success; 1 the master
// answered with an error (its message and code are on stderr); 2 a usage
// error, including a --config that does not load and JSON that the tool
// cannot encode for the method, refused before anything is sent; 3 the call
// could not be made (master unreachable, not a FastRpc master, timed out,
// connection failed, or a response the tool cannot show as JSON); 130
// interrupted by SIGINT or SIGTERM. bench uses the same codes for the
// calls of its run (3 when any call could not be made, else 1 when any got
// an error answer), and on 130 first prints the report of what ran.
// Errors are one line on stderr, starting "fastrpc: ".
//
// # What it is not
//
// It is a tool for trying, inspecting and scripting, not a production
// server or a client library: the demo master's methods exist to be called
// by hand, and programs should use packages master, slave and typed. It
// knows no schemas: the JSON it sends is only re-encoded with the method's
// codec, and whether it fits the method's Go types is for the master to say
// (an error, exit 1). "fastrpc call" makes one call and measures nothing;
// "fastrpc bench" measures one method from one process, which is not a
// distributed load test, and its latencies include the tool's own
// scheduling on a busy machine.
package main
