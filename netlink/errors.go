package netlink

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Sentinel errors. A RemoteError from the peer wraps the one its code (or,
// from a version-1 peer, its status) names, so errors.Is works across the
// wire: a missing remote array is fs.ErrNotExist, a bad name
// mmapstore.ErrInvalidName, a corrupt block arrayx.ErrChecksum, and so on.
var (
	// ErrProtocol means the peer broke the protocol: bad magic, version,
	// frame, or message.
	ErrProtocol = errors.New("netlink: protocol error")

	// ErrMessageTooLarge means a message body exceeds the limit. It is
	// reported before the body is read or allocated.
	ErrMessageTooLarge = errors.New("netlink: message too large")

	// ErrUnsupported means the peer asked for something this side does not
	// speak: an unknown message kind, flag, key or feature. A version-2
	// connection stays usable after it.
	ErrUnsupported = errors.New("netlink: unsupported")

	// ErrUnauthorized means the token was missing or wrong.
	ErrUnauthorized = errors.New("netlink: unauthorized")

	// ErrReadOnly means the server refuses writes (PUT, DELETE).
	ErrReadOnly = errors.New("netlink: server is read-only")

	// ErrUnavailable means the server is at its connection limit or shutting down.
	ErrUnavailable = errors.New("netlink: server unavailable")

	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("netlink: server closed")

	// ErrRelay means a relayed push's chain was refused: too long, a loop,
	// or a host relaying to itself.
	ErrRelay = errors.New("netlink: relay refused")

	// ErrHostLost, in a relayed push's HostStats, means the host could not
	// be reached or its connection was lost mid-transfer.
	ErrHostLost = errors.New("netlink: relay host unreachable or lost")

	// ErrTLS means one side speaks TLS and the other does not.
	ErrTLS = errors.New("netlink: TLS mismatch")

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
	StatusBadGateway   = 502
	StatusUnsupported  = 501
	StatusUnavailable  = 503
	StatusNoSpace      = 507
)

// errorCodes maps errors to a REPLY's status and code, most specific first:
// the first row whose sentinel the error wraps gives both. A client maps a
// code back to its sentinel; a version-1 server sends no code, and the
// client goes by statusErr.
var errorCodes = []struct {
	code   string
	status int
	err    error
}{
	{"invalid_name", StatusBadRequest, mmapstore.ErrInvalidName},
	{"header_too_large", StatusBadRequest, arrayx.ErrHeaderTooLarge},
	{"not_sealed", StatusBadRequest, arrayx.ErrNotSealed},
	{"invalid_header", StatusBadRequest, arrayx.ErrInvalidHeader},
	{"bad_magic", StatusBadRequest, arrayx.ErrBadMagic},
	{"format_version", StatusBadRequest, arrayx.ErrVersion},
	{"truncated", StatusBadRequest, arrayx.ErrTruncated},
	{"dtype", StatusBadRequest, arrayx.ErrDType},
	{"range", StatusBadRequest, mmapstore.ErrRange},
	{"message_too_large", StatusBadRequest, ErrMessageTooLarge},
	{"relay", StatusBadRequest, ErrRelay},
	{"tls", StatusBadRequest, ErrTLS},
	{"protocol", StatusBadRequest, ErrProtocol},
	{"unauthorized", StatusUnauthorized, ErrUnauthorized},
	{"read_only", StatusReadOnly, ErrReadOnly},
	{"not_found", StatusNotFound, fs.ErrNotExist},
	{"busy", StatusBusy, mmapstore.ErrBusy},
	{"too_large", StatusTooLarge, arrayx.ErrTooLarge},
	{"checksum", StatusChecksum, arrayx.ErrChecksum},
	{"fault", StatusInternal, mmapstore.ErrFault},
	{"unsupported", StatusUnsupported, ErrUnsupported},
	{"host_lost", StatusBadGateway, ErrHostLost},
	{"unavailable", StatusUnavailable, ErrUnavailable},
	{"no_space", StatusNoSpace, mmapstore.ErrNoSpace},
}

// RemoteError is an error reported by the peer in a REPLY.
type RemoteError struct {
	Status  int
	Code    string // version 2: the error's class (docs/PROTOCOL.md); "" from version 1
	Message string
}

func (e *RemoteError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("netlink: remote error %d (%s): %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("netlink: remote error %d: %s", e.Status, e.Message)
}

// statusErr is what a status alone means, from a peer that sends no code.
var statusErr = map[int]error{
	StatusBadRequest:   ErrProtocol,
	StatusUnauthorized: ErrUnauthorized,
	StatusReadOnly:     ErrReadOnly,
	StatusNotFound:     fs.ErrNotExist,
	StatusBusy:         mmapstore.ErrBusy,
	StatusTooLarge:     arrayx.ErrTooLarge,
	StatusChecksum:     arrayx.ErrChecksum,
	StatusUnsupported:  ErrUnsupported,
	StatusUnavailable:  ErrUnavailable,
	StatusNoSpace:      mmapstore.ErrNoSpace,
}

// Unwrap returns the sentinel the code, or else the status, names.
func (e *RemoteError) Unwrap() error {
	if e.Code == "" {
		return statusErr[e.Status]
	}
	for _, c := range errorCodes {
		if c.code == e.Code {
			return c.err
		}
	}
	return nil
}

// classify chooses the REPLY status and code for a local error.
func classify(err error) (int, string) {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Status, re.Code
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.status, c.code
		}
	}
	return StatusInternal, "internal"
}

// replyErr turns a non-OK REPLY into a *RemoteError.
func replyErr(b *replyBody) error {
	if b.Status == StatusOK {
		return nil
	}
	return &RemoteError{Status: b.Status, Code: b.Code, Message: b.Message}
}

// hiddenFile matches the store's temporary and partial file names.
var hiddenFile = regexp.MustCompile(`\.[^/\s"]*\.arx\.(tmp|part)-[0-9a-f]{16}`)

// publicMessage is err's text as a peer may see it: without the store's
// directory or the names of its hidden files, which say nothing to a client
// and something about the server's filesystem to anyone.
func publicMessage(err error, storeDir string) string {
	msg := err.Error()
	if storeDir != "" {
		msg = strings.ReplaceAll(msg, strings.TrimSuffix(storeDir, "/")+"/", "")
		msg = strings.ReplaceAll(msg, storeDir, "(store)")
	}
	return hiddenFile.ReplaceAllString(msg, "(temporary file)")
}
