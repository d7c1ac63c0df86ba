// Package testserve starts masters for the tests of this module: on a
// loopback address, waiting until they listen, and closing them when the
// test ends. It is for tests only, not for programs: it
// reports failures through testing.TB.
package testserve
