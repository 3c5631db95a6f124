package netlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzReadMsg feeds arbitrary bytes to the message parser: it must never
// panic, every error must say what was wrong (a protocol error, a message
// over the limit, or the input ending), and every message it accepts must
// encode back to the same bytes and parse again.
func FuzzReadMsg(f *testing.F) {
	for kind, b := range map[byte]*body{
		kindHello:  {Version: Version, Software: "arrayx", Nonce: bytes.Repeat([]byte{7}, NonceSize)},
		kindAuth:   {MAC: bytes.Repeat([]byte{9}, 32)},
		kindReply:  {Status: StatusOK, Offset: 4 << 20, Method: "sendfile", Arrays: []Entry{{Name: "a/b", DType: "float64", Shape: []int64{2, 3}, Order: "C", NBytes: 48}}},
		kindPut:    {Name: "sim/t", Header: []byte("\x89ARX\r\n\x1a\n\x01\x00\x00\x00\x00\x00\x00\x00")},
		kindGet:    {Name: "sim/t"},
		kindFrom:   {Offset: 8 << 20},
		kindStat:   {Name: "x"},
		kindList:   {},
		kindDelete: {Name: "x"},
	} {
		var buf bytes.Buffer
		if err := writeMsg(&buf, kind, b); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()-1]) // truncated
	}
	huge := make([]byte, frameSize)
	huge[0], huge[1] = Version, kindGet
	binary.LittleEndian.PutUint32(huge[4:], 1<<31)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 64 << 10
		kind, b, err := readMsg(bytes.NewReader(in), limit)
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrMessageTooLarge) &&
				!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		var once, twice bytes.Buffer
		if err := writeMsg(&once, kind, b); err != nil {
			t.Fatalf("accepted message does not encode: %v", err)
		}
		kind2, b2, err := readMsg(bytes.NewReader(once.Bytes()), limit+1<<10)
		if err != nil || kind2 != kind {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		writeMsg(&twice, kind2, b2)
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatal("message changed in a round trip")
		}
	})
}
