//go:build race

package pool

// raceEnabled: built with -race (ReadBuf.Release poisons released buffers).
const raceEnabled = true
