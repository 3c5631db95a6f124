package netlink

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

// TestProtocolDoc keeps docs/PROTOCOL.md exact: its tables of kinds (with
// their versions and body keys), limits, features, statuses and codes, and
// its example bytes, are checked against the code.
func TestProtocolDoc(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	rows := func(header string) [][]string {
		t.Helper()
		i := strings.Index(doc, header)
		if i < 0 {
			t.Fatalf("PROTOCOL.md has no table headed %q", header)
		}
		var out [][]string
		for _, line := range strings.Split(doc[i:], "\n")[2:] {
			if !strings.HasPrefix(line, "|") {
				break
			}
			cells := strings.Split(strings.Trim(line, "|"), "|")
			for j := range cells {
				cells[j] = strings.TrimSpace(cells[j])
			}
			out = append(out, cells)
		}
		return out
	}

	// Kinds: every kind, the versions it exists in, and every key of its body type.
	bodies := map[byte]any{kindHello: helloBody{}, kindAuth: authBody{}, kindReply: replyBody{}, kindPut: putBody{},
		kindGet: getBody{}, kindFrom: fromBody{}, kindStat: nameBody{}, kindList: listBody{}, kindDelete: nameBody{},
		kindNeed: needBody{}, kindData: dataBody{}}
	seen := map[byte]bool{}
	for _, r := range rows("| kind | name | versions | sender | body keys |") {
		k, err := strconv.Atoi(r[0])
		if err != nil || kindNames[byte(k)] != r[1] {
			t.Errorf("kind row %q: no such kind in the code", r)
			continue
		}
		kind := byte(k)
		seen[kind] = true
		for _, v := range versions {
			if in := strings.Contains(r[2], strconv.Itoa(v)); in != kindIn(kind, v) {
				t.Errorf("%s: the doc says versions %q; the code has it in version %d: %v", r[1], r[2], v, kindIn(kind, v))
			}
		}
		for _, key := range msgpackKeys(bodies[kind]) {
			if !strings.Contains(r[4], "`"+key+"`") {
				t.Errorf("%s's row does not list the key %q: %q", r[1], key, r[4])
			}
		}
		if kind == kindReply { // LIST entries and relay host reports: their keys, in the text
			for _, key := range append(msgpackKeys(Entry{}), msgpackKeys(HostStats{})...) {
				if !strings.Contains(doc, "`"+key+"`") {
					t.Errorf("PROTOCOL.md does not mention the key %q of a REPLY's entries", key)
				}
			}
		}
	}
	for kind, name := range kindNames {
		if !seen[kind] {
			t.Errorf("PROTOCOL.md lacks the kind row for %d %s", kind, name)
		}
	}

	// Limits.
	sizes := map[string]int{"4 KiB": 4 << 10, "64 KiB": 64 << 10,
		"the header limit (1 MiB by default) + 64 KiB": arrayx.DefaultMaxHeaderBytes + 64<<10,
		"the header limit + 1 MiB":                     arrayx.DefaultMaxHeaderBytes + 1<<20}
	limited := map[byte]bool{}
	for _, r := range rows("| kind | limit |") {
		want, ok := sizes[r[1]]
		if !ok {
			t.Errorf("limit %q: the test does not know it", r[1])
		}
		for _, name := range strings.Split(r[0], ", ") {
			kind := kindByName(name)
			limited[kind] = true
			if got := bodyLimit(kind, arrayx.DefaultMaxHeaderBytes); got != want {
				t.Errorf("%s's limit: the doc says %s (%d), the code %d", name, r[1], want, got)
			}
		}
	}
	for kind, name := range kindNames {
		if !limited[kind] {
			t.Errorf("the limits table lacks %s", name)
		}
	}

	// Features.
	var feats []string
	for _, r := range rows("| feature | meaning |") {
		feats = append(feats, strings.Trim(r[0], "`"))
	}
	if !slices.Equal(feats, clientHello(Version).Features) {
		t.Errorf("the features table lists %v, the code offers %v", feats, clientHello(Version).Features)
	}

	// Statuses and codes, both ways.
	statuses := map[int]bool{StatusOK: true, StatusInternal: true}
	for s := range statusErr {
		statuses[s] = true
	}
	codes := map[string]int{"internal": StatusInternal}
	for _, c := range errorCodes {
		statuses[c.status] = true
		codes[c.code] = c.status
	}
	docStatuses := map[int]bool{}
	for _, r := range rows("| status | meaning |") {
		s, _ := strconv.Atoi(r[0])
		docStatuses[s] = true
	}
	if fmt.Sprint(docStatuses) != fmt.Sprint(statuses) {
		t.Errorf("statuses: the doc has %v, the code %v", docStatuses, statuses)
	}
	docCodes := map[string]int{}
	for _, r := range rows("| code | status | meaning |") {
		s, _ := strconv.Atoi(r[1])
		docCodes[strings.Trim(r[0], "`")] = s
	}
	if fmt.Sprint(docCodes) != fmt.Sprint(codes) {
		t.Errorf("codes: the doc has %v, the code %v", docCodes, codes)
	}

	if !strings.Contains(doc, strings.ToUpper(strings.TrimSpace(regexp.MustCompile("..").ReplaceAllString(hex.EncodeToString(Magic[:]), "$0 ")))) {
		t.Error("PROTOCOL.md lacks the magic")
	}
	if !strings.Contains(doc, fmt.Sprintf(`"%s"`, authContext)) || NonceSize != 32 {
		t.Error("PROTOCOL.md's auth description is out of date")
	}
	if !strings.Contains(doc, fmt.Sprintf("fails %d times", maxBlockAttempts)) || !strings.Contains(doc, "at most 64 MiB at a time") ||
		assignBytes != 64<<20 || sendChunk != 64<<20 || listPage != 1000 || !strings.Contains(doc, "at 1000") ||
		!strings.Contains(doc, fmt.Sprintf("(the reference server: %d)", DefaultMaxChain)) {
		t.Error("PROTOCOL.md's figures for transfers and LIST are out of date")
	}
	flat := strings.Join(strings.Fields(doc), " ") // prose, whatever its line breaks
	if MaxEagerBytes != 16<<20 || !strings.Contains(flat, "at most 16 MiB") ||
		!strings.Contains(flat, fmt.Sprintf("keeps at most %d eager requests unanswered", eagerWindow)) {
		t.Error("PROTOCOL.md's figures for eager PUTs are out of date")
	}

	// Examples, made the way the code makes them.
	example := func(marker string) string {
		m := regexp.MustCompile("(?s)<!-- " + marker + " -->\\s*```\\n(.*?)```").FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("no example %q", marker)
		}
		return m[1]
	}
	id, _ := hex.DecodeString("5e1f00112233445566778899aabbccdd")
	for _, ex := range []struct {
		marker  string
		magic   bool
		version int
		kind    byte
		body    any
	}{
		{"example-hello", true, Version1, kindHello, clientHello(Version)},
		{"example-get", false, Version2, kindGet, &getBody{Name: "sim/t"}},
		{"example-need", false, Version2, kindNeed, &needBody{Transfer: id, Ranges: [][]int64{{0, 16}, {20, 21}}}},
		{"example-data", false, Version2, kindData, &dataBody{Transfer: id, Offset: 20 << 22, Length: 4 << 20}},
	} {
		var b bytes.Buffer
		if ex.magic {
			b.Write(Magic[:])
		}
		writeMsg(&b, ex.version, ex.kind, ex.body)
		if got, want := hex.Dump(b.Bytes()), example(ex.marker); got != want {
			t.Errorf("%s differs:\ncode:\n%sdoc:\n%s", ex.marker, got, want)
		}
	}
}

// msgpackKeys returns the msgpack keys of a struct's fields.
func msgpackKeys(v any) []string {
	var keys []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("msgpack"), ",")
		keys = append(keys, name)
	}
	return keys
}

func kindByName(name string) byte {
	for k, n := range kindNames {
		if n == name {
			return k
		}
	}
	return 0
}
