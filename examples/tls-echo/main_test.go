package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	for _, mtls := range []bool{false, true} {
		if err := run(mtls); err != nil {
			t.Fatalf("mtls=%v: %v", mtls, err)
		}
	}
}
