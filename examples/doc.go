// Package examples holds runnable FastRpc programs, one per directory; each
// runs with one command, for example:
//
//	go run ./examples/quickstart
//
// They are for learning the API, not for importing.
package examples
