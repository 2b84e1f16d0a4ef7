// Package exampleflags holds what the example programs share: parsing the
// -framing flag.
package exampleflags

import (
	"fmt"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Framing returns the framing named by a -framing flag (raw, len32, line)
// with maxMessage as its limit (0: the framing's default).
func Framing(name string, maxMessage int) (ss.Framing, error) {
	switch name {
	case "raw":
		return ss.Raw(), nil
	case "len32":
		return ss.LengthPrefixed(maxMessage), nil
	case "line":
		return ss.Lines(maxMessage), nil
	}
	return nil, fmt.Errorf("unknown -framing %q (want raw, len32 or line)", name)
}
