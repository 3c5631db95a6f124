package netlink

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestProtocolDoc keeps docs/PROTOCOL.md exact: its kind and status tables
// and example bytes are checked against the code.
func TestProtocolDoc(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for kind, name := range kindNames {
		if row := fmt.Sprintf("| %d | %s |", kind, name); !strings.Contains(doc, row) {
			t.Errorf("PROTOCOL.md lacks the kind row %q", row)
		}
	}
	for status := range statusErr {
		if !strings.Contains(doc, fmt.Sprintf("| %d |", status)) {
			t.Errorf("PROTOCOL.md lacks status %d", status)
		}
	}
	for _, s := range []int{StatusOK, StatusInternal} {
		if !strings.Contains(doc, fmt.Sprintf("| %d |", s)) {
			t.Errorf("PROTOCOL.md lacks status %d", s)
		}
	}
	if !strings.Contains(doc, strings.ToUpper(strings.TrimSpace(regexp.MustCompile("..").ReplaceAllString(hex.EncodeToString(Magic[:]), "$0 ")))) {
		t.Error("PROTOCOL.md lacks the magic")
	}
	example := func(marker string) string {
		m := regexp.MustCompile("(?s)<!-- " + marker + " -->\\s*```\\n(.*?)```").FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("no example %q", marker)
		}
		return m[1]
	}
	var b bytes.Buffer
	b.Write(Magic[:])
	writeMsg(&b, kindHello, &body{Version: Version, Software: "arrayx"})
	if got, want := hex.Dump(b.Bytes()), example("example-hello"); got != want {
		t.Errorf("HELLO example differs:\ncode:\n%sdoc:\n%s", got, want)
	}
	b.Reset()
	writeMsg(&b, kindGet, &body{Name: "sim/t"})
	if got, want := hex.Dump(b.Bytes()), example("example-get"); got != want {
		t.Errorf("GET example differs:\ncode:\n%sdoc:\n%s", got, want)
	}
	if !strings.Contains(doc, fmt.Sprintf(`"%s"`, authContext)) || NonceSize != 32 {
		t.Error("PROTOCOL.md's auth description is out of date")
	}
}
