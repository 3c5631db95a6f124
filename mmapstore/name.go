package mmapstore

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest array name, in bytes.
const MaxNameLen = 255

// Ext is the file extension of arrays in a store.
const Ext = ".arx"

// ValidateName checks an array name: 1 to 255 bytes of "/"-separated
// segments, each made of [A-Za-z0-9._-], none empty, none "." or "..", none
// starting with "." (those are reserved for temporary files). The rules keep
// every name a plain relative path inside the store on every OS.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" {
			return fmt.Errorf("%w: %q has an empty segment (leading, trailing or double \"/\")", ErrInvalidName, name)
		}
		if seg[0] == '.' {
			return fmt.Errorf("%w: %q: segment %q starts with \".\"", ErrInvalidName, name, seg)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q: byte %#02x is not one of [A-Za-z0-9._-] or \"/\"", ErrInvalidName, name, c)
			}
		}
	}
	return nil
}
