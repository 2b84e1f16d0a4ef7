//go:build race

package simplesockets_test

// flowRace: built with -race; load tests use fewer peers so that their
// latency limits mean the same thing.
const flowRace = true
