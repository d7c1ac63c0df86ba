// Package systemtest holds FastRpc's end-to-end tests, which exercise a
// real master and slave together rather than one package: faults with
// child-process masters (killed with SIGKILL and restarted), connections
// reset mid-call and a blackholed master, the soak, thousands of
// connections to one master, the check that README's error table names
// exactly package slave's sentinels, and the raw call's benchmarks. It has
// no non-test code beyond this doc.
//
// The soak runs for 3 seconds by default; FASTRPC_SOAK (a duration) makes
// it the long one .ci/run uses:
//
//	FASTRPC_SOAK=45s go test -count=1 -run '^TestSoak$' -v ./internal/systemtest
package systemtest
