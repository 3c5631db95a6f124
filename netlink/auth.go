package netlink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
)

// authContext separates arrayx's MACs from any other use of the same token.
const authContext = "arrayx-auth-v1"

// NonceSize is the length of the server's challenge.
const NonceSize = 32

func newNonce() []byte {
	b := make([]byte, NonceSize)
	rand.Read(b)
	return b
}

// authMAC is the client's answer to a challenge:
// HMAC-SHA256(token, "arrayx-auth-v1" || nonce). The token never crosses
// the wire, and a fresh nonce per connection makes old answers useless.
func authMAC(token, nonce []byte) []byte {
	m := hmac.New(sha256.New, token)
	m.Write([]byte(authContext))
	m.Write(nonce)
	return m.Sum(nil)
}

// checkMAC compares in constant time.
func checkMAC(token, nonce, mac []byte) bool {
	return hmac.Equal(authMAC(token, nonce), mac)
}
