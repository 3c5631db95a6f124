package mmapstore

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest array name, in bytes.
const MaxNameLen = 255

// MaxSegmentLen is the longest segment: a file name is limited to 255 bytes
// on common filesystems, and a writer's temporary name adds 26 to the
// segment (".", ".arx", ".tmp-" and 16 hex digits).
const MaxSegmentLen = 229

// Ext is the file extension of arrays in a store.
const Ext = ".arx"

// ValidateName checks an array name: 1 to 255 bytes of "/"-separated
// segments, each 1 to 229 bytes of [A-Za-z0-9._-], none "." or "..", none
// starting with "." (reserved for temporary files), and no directory segment
// ending in ".arx" (array "a" is the file a.arx, so "a.arx/b" would collide
// with it). The rules keep every name a plain relative path inside the
// store; Windows' reserved device names (CON, NUL, ...) are not refused.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	}
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		if seg == "" {
			return fmt.Errorf("%w: %q has an empty segment (leading, trailing or double \"/\")", ErrInvalidName, name)
		}
		if seg[0] == '.' {
			return fmt.Errorf("%w: %q: segment %q starts with \".\"", ErrInvalidName, name, seg)
		}
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w: %q: a segment of %d bytes, the limit is %d", ErrInvalidName, name, len(seg), MaxSegmentLen)
		}
		if i < len(segs)-1 && strings.HasSuffix(seg, Ext) {
			return fmt.Errorf("%w: %q: directory segment %q ends in %q, which would collide with the array %q", ErrInvalidName, name, seg, Ext, strings.TrimSuffix(strings.Join(segs[:i+1], "/"), Ext))
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
