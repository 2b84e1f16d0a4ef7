package simplesockets_test

import "os"

var errOSDeadline = os.ErrDeadlineExceeded
