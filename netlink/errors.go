package netlink

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Sentinel errors. A RemoteError from the peer wraps the one matching its
// status, so errors.Is works across the wire: a missing remote array is
// fs.ErrNotExist, a corrupt block arrayx.ErrChecksum, and so on.
var (
	// ErrProtocol means the peer broke the protocol: bad magic, version,
	// frame, or message.
	ErrProtocol = errors.New("netlink: protocol error")

	// ErrMessageTooLarge means a message body exceeds the limit. It is
	// reported before the body is read or allocated.
	ErrMessageTooLarge = errors.New("netlink: message too large")

	// ErrUnauthorized means the token was missing or wrong.
	ErrUnauthorized = errors.New("netlink: unauthorized")

	// ErrReadOnly means the server refuses writes (PUT, DELETE).
	ErrReadOnly = errors.New("netlink: server is read-only")

	// ErrUnavailable means the server is at its connection limit or shutting down.
	ErrUnavailable = errors.New("netlink: server unavailable")

	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("netlink: server closed")

	// ErrBroken means an earlier error (a cancelled transfer, a dead
	// connection) left the client's connection unusable: Dial again.
	ErrBroken = errors.New("netlink: connection broken by an earlier error")
)

// Status codes of REPLY messages (docs/PROTOCOL.md).
const (
	StatusOK           = 200
	StatusBadRequest   = 400
	StatusUnauthorized = 401
	StatusReadOnly     = 403
	StatusNotFound     = 404
	StatusBusy         = 409
	StatusTooLarge     = 413
	StatusChecksum     = 422
	StatusInternal     = 500
	StatusUnavailable  = 503
	StatusNoSpace      = 507
)

// statusErr maps statuses to the sentinels a RemoteError wraps.
var statusErr = map[int]error{
	StatusBadRequest:   ErrProtocol,
	StatusUnauthorized: ErrUnauthorized,
	StatusReadOnly:     ErrReadOnly,
	StatusNotFound:     fs.ErrNotExist,
	StatusBusy:         mmapstore.ErrBusy,
	StatusTooLarge:     arrayx.ErrTooLarge,
	StatusChecksum:     arrayx.ErrChecksum,
	StatusUnavailable:  ErrUnavailable,
	StatusNoSpace:      mmapstore.ErrNoSpace,
}

// RemoteError is an error reported by the peer in a REPLY.
type RemoteError struct {
	Status  int
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("netlink: remote error %d: %s", e.Status, e.Message)
}

func (e *RemoteError) Unwrap() error { return statusErr[e.Status] }

// statusOf chooses the REPLY status for a local error.
func statusOf(err error) int {
	var re *RemoteError
	switch {
	case errors.As(err, &re):
		return re.Status
	case errors.Is(err, fs.ErrNotExist):
		return StatusNotFound
	case errors.Is(err, mmapstore.ErrInvalidName), errors.Is(err, arrayx.ErrInvalidHeader),
		errors.Is(err, arrayx.ErrBadMagic), errors.Is(err, arrayx.ErrVersion),
		errors.Is(err, arrayx.ErrTruncated), errors.Is(err, arrayx.ErrNotSealed),
		errors.Is(err, arrayx.ErrHeaderTooLarge), errors.Is(err, ErrProtocol), errors.Is(err, ErrMessageTooLarge):
		return StatusBadRequest
	case errors.Is(err, arrayx.ErrTooLarge):
		return StatusTooLarge
	case errors.Is(err, mmapstore.ErrBusy):
		return StatusBusy
	case errors.Is(err, arrayx.ErrChecksum):
		return StatusChecksum
	case errors.Is(err, mmapstore.ErrNoSpace):
		return StatusNoSpace
	case errors.Is(err, ErrReadOnly):
		return StatusReadOnly
	case errors.Is(err, ErrUnauthorized):
		return StatusUnauthorized
	}
	return StatusInternal
}
