//go:build linux

package zerocopy

import (
	"sync"

	"golang.org/x/sys/unix"
)

// copyFileRangeWorks: before Linux 5.3 copy_file_range could copy wrong data
// across filesystems and fail silently (golang.org/issue/42400), so older
// kernels are not asked.
var copyFileRangeWorks = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	major, minor := kernelVersion(u.Release[:])
	return major > 5 || major == 5 && minor >= 3
})

// kernelVersion parses the leading "major.minor" of a uname release.
func kernelVersion(rel []byte) (major, minor int) {
	i := 0
	num := func() int {
		n := 0
		for ; i < len(rel) && '0' <= rel[i] && rel[i] <= '9'; i++ {
			n = n*10 + int(rel[i]-'0')
		}
		return n
	}
	major = num()
	if i < len(rel) && rel[i] == '.' {
		i++
		minor = num()
	}
	return major, minor
}
