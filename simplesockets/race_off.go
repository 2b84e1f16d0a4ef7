//go:build !race

package simplesockets

// raceEnabled: built with -race (recycle.go poisons reclaimed buffers).
const raceEnabled = false
