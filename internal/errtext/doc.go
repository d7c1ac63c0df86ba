// Package errtext builds the library's error messages so that each reads
// as one sentence with a single "fastrpc: " prefix, however many layers
// wrapped it, while errors.Is and errors.As still see every wrapped error.
// It is internal: it formats messages and decides nothing about them.
package errtext
