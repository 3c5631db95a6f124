package arrayx

import "github.com/arrayx/arrayx/internal/mpscan"

// scanMsgpack is the shared well-formedness scan (internal/mpscan); it is
// named here because the header decoder and its tests use it.
var scanMsgpack = mpscan.Scan
