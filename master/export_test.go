package master

// SetMethodID replaces how names become method IDs until the returned
// function restores it, so tests can provoke collisions and the reserved
// ID 0, which FNV-1a makes impractical to find by search.
func SetMethodID(f func(string) uint64) (restore func()) {
	old := methodID
	methodID = f
	return func() { methodID = old }
}
