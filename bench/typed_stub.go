//go:build notyped

package bench

func init() { TypedNote = "typed layer not available (built with -tags notyped)" }

func typedSystems() []System { return nil }
