//go:build race

package simplesockets

// raceEnabled: built with -race (Release poisons released buffers).
const raceEnabled = true
