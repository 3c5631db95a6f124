package npy

import (
	"fmt"
	"math"
	"strconv"
)

// This file parses the small subset of Python literal syntax that a .npy
// header uses: a dict of string keys whose values are strings, True/False,
// None, decimal integers, tuples and lists. numpy evaluates the header with
// ast.literal_eval; here nothing is evaluated, the grammar is closed, and
// anything else (names, calls, operators, floats, comments, string prefixes
// or concatenation) is a syntax error naming the byte where it starts.

type litKind uint8

const (
	litStr litKind = iota + 1
	litInt
	litBool
	litNone
	litTuple
	litList
	litDict
)

func (k litKind) String() string {
	switch k {
	case litStr:
		return "a string"
	case litInt:
		return "an integer"
	case litBool:
		return "a bool"
	case litNone:
		return "None"
	case litTuple:
		return "a tuple"
	case litList:
		return "a list"
	case litDict:
		return "a dict"
	}
	return "nothing"
}

// lit is one parsed literal.
type lit struct {
	kind  litKind
	off   int // where it starts, from the start of the header text
	str   string
	num   int64
	b     bool
	elems []lit // tuple and list elements, dict values
	keys  []lit // dict keys, parallel to elems
}

// maxLitDepth bounds nesting, so a header of brackets cannot exhaust the
// stack. A valid header nests three deep: dict, shape tuple, nothing more.
const maxLitDepth = 16

type litParser struct {
	src   []byte
	pos   int
	depth int
	base  int64 // file offset of src[0], for errors
	longL bool  // accept Python 2 long suffixes ("3L"), as numpy does in 1.0 and 2.0
}

func (p *litParser) errAt(off int, format string, args ...any) error {
	return &HeaderError{Offset: p.base + int64(off), Msg: fmt.Sprintf(format, args...), Err: ErrInvalidHeader}
}

// parseDict parses src as exactly one dict literal followed by nothing but
// whitespace (numpy pads with spaces and a final newline).
func (p *litParser) parseDict() (lit, error) {
	if len(p.src) == 0 {
		return lit{}, p.errAt(0, "empty header")
	}
	if p.src[0] != '{' {
		return lit{}, p.errAt(0, "header must start with '{', found %s", p.describe(0))
	}
	d, err := p.value()
	if err != nil {
		return lit{}, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return lit{}, p.errAt(p.pos, "unexpected %s after the header dict (only spaces and newlines may follow it)", p.describe(p.pos))
	}
	return d, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdent(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (p *litParser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// describe quotes the byte at off for an error message.
func (p *litParser) describe(off int) string {
	if off >= len(p.src) {
		return "end of header"
	}
	return strconv.QuoteToASCII(string(p.src[off : off+1]))
}

func (p *litParser) value() (lit, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return lit{}, p.errAt(p.pos, "header ends where a value is expected")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.container(litDict, '}')
	case c == '(':
		return p.container(litTuple, ')')
	case c == '[':
		return p.container(litList, ']')
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || '0' <= c && c <= '9':
		return p.int()
	case isIdent(c):
		return p.name()
	}
	return lit{}, p.errAt(p.pos, "unexpected %s where a value is expected", p.describe(p.pos))
}

// container parses a dict, tuple or list whose opening bracket is at p.pos.
// A parenthesised single value without a comma is that value, as in Python:
// "(5)" is 5, "(5,)" a 1-tuple.
func (p *litParser) container(kind litKind, closer byte) (lit, error) {
	v := lit{kind: kind, off: p.pos}
	if p.depth++; p.depth > maxLitDepth {
		return lit{}, p.errAt(p.pos, "nesting deeper than %d", maxLitDepth)
	}
	defer func() { p.depth-- }()
	p.pos++ // the opening bracket
	commas := 0
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == closer {
			p.pos++
			break
		}
		if len(v.elems) > commas {
			return lit{}, p.errAt(p.pos, "expected ',' or %q, found %s", closer, p.describe(p.pos))
		}
		if kind == litDict {
			k, err := p.value()
			if err != nil {
				return lit{}, err
			}
			p.skipSpace()
			if p.pos >= len(p.src) || p.src[p.pos] != ':' {
				return lit{}, p.errAt(p.pos, "expected ':' after a dict key, found %s", p.describe(p.pos))
			}
			p.pos++
			v.keys = append(v.keys, k)
		}
		e, err := p.value()
		if err != nil {
			return lit{}, err
		}
		v.elems = append(v.elems, e)
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			commas++
		}
	}
	if kind == litTuple && len(v.elems) == 1 && commas == 0 {
		return v.elems[0], nil
	}
	return v, nil
}

// str parses a single- or double-quoted string. The only escapes are \\,
// \' and \": no header numpy writes needs more.
func (p *litParser) str() (lit, error) {
	start, q := p.pos, p.src[p.pos]
	var out []byte
	for p.pos++; ; p.pos++ {
		if p.pos >= len(p.src) || p.src[p.pos] == '\n' {
			return lit{}, p.errAt(start, "unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			return lit{kind: litStr, off: start, str: string(out)}, nil
		case c == '\\':
			p.pos++
			if p.pos >= len(p.src) || (p.src[p.pos] != '\\' && p.src[p.pos] != '\'' && p.src[p.pos] != '"') {
				return lit{}, p.errAt(p.pos-1, "unsupported escape in string (only \\\\, \\' and \\\")")
			}
			out = append(out, p.src[p.pos])
		case c < 0x20 || c == 0x7f:
			return lit{}, p.errAt(p.pos, "control character %s in string", p.describe(p.pos))
		default:
			out = append(out, c)
		}
	}
}

// int parses an optionally negative decimal integer that fits in an int64.
// Negative values parse (so that a negative dimension is reported as such);
// the caller rejects them.
func (p *litParser) int() (lit, error) {
	start := p.pos
	neg := p.src[p.pos] == '-'
	if neg {
		p.pos++
	}
	digits := p.pos
	var u uint64
	overflow := false
	for p.pos < len(p.src) && '0' <= p.src[p.pos] && p.src[p.pos] <= '9' {
		d := uint64(p.src[p.pos] - '0')
		if u > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			u = u*10 + d
		}
		p.pos++
	}
	switch n := p.pos - digits; {
	case n == 0:
		return lit{}, p.errAt(start, "'-' not followed by digits (only integer literals are allowed)")
	case n > 1 && p.src[digits] == '0':
		return lit{}, p.errAt(start, "integer with a leading zero")
	}
	if p.longL && p.pos < len(p.src) && (p.src[p.pos] == 'L' || p.src[p.pos] == 'l') {
		p.pos++
	}
	if p.pos < len(p.src) && (isIdent(p.src[p.pos]) || p.src[p.pos] == '.') {
		return lit{}, p.errAt(start, "malformed number (only decimal integers are allowed)")
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if overflow || u > limit {
		return lit{}, &HeaderError{Offset: p.base + int64(start),
			Msg: fmt.Sprintf("integer %s does not fit in an int64", p.src[start:p.pos]), Err: ErrTooLarge}
	}
	v := int64(u) // wraps to MinInt64 for -2^63, which the negation keeps
	if neg {
		v = -v
	}
	return lit{kind: litInt, off: start, num: v}, nil
}

// name parses True, False or None; any other name is refused, which is what
// keeps calls and attribute lookups out.
func (p *litParser) name() (lit, error) {
	start := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
		p.pos++
	}
	switch s := string(p.src[start:p.pos]); s {
	case "True", "False":
		return lit{kind: litBool, off: start, b: s == "True"}, nil
	case "None":
		return lit{kind: litNone, off: start}, nil
	default:
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return lit{}, p.errAt(start, "name %q: only literals are allowed (no names, calls or expressions)", s)
	}
}
