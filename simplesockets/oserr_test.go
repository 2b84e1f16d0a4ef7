package simplesockets_test

import (
	"io"
	"os"
)

var errOSDeadline = os.ErrDeadlineExceeded

var errUnexpectedEOF = io.ErrUnexpectedEOF
