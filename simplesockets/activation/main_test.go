package activation_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("ACTIVATION_TEST_CHILD") != "" {
		child() // the re-executed test binary: serve what was inherited, then exit
		return
	}
	goleak.VerifyTestMain(m)
}
