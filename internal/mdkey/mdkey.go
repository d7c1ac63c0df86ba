// Package mdkey holds the context keys of package metadata, so that
// package master's call context can answer them without building a
// standard context: the keys are not part of the public API.
package mdkey

// Incoming is the context key of a call's incoming metadata.
type Incoming struct{}
