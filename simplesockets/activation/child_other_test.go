//go:build !unix

package activation_test

// child is the re-executed test binary's work; there is none here.
func child() {}
