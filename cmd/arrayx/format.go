package main

// Printing arrays the way numpy's print(a) (str(a)) does, with numpy's
// default print options: a port of the relevant parts of numpy's
// arrayprint.py (_formatArray, FloatingFormat, IntegerFormat, BoolFormat,
// ComplexFloatingFormat), for legacy=False, floatmode="maxprec", sign="-".
//
// numpy has no bfloat16; it prints like the other floats, with the shortest
// digits that identify a bfloat16 value (as the ml_dtypes package does).

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
)

// numpy's default print options.
const (
	npPrecision = 8    // digits after the decimal point, at most
	npLineWidth = 75   // characters per line
	npEdgeItems = 3    // items shown at each end of a summarized axis
	npThreshold = 1000 // more elements than this are summarized
)

// formatArray writes the array with header h and data region data to w as
// numpy's print would, newline included. Arrays with more than threshold
// elements are summarized with "..."; a negative threshold never summarizes.
func formatArray(w io.Writer, h *arrayx.Header, data []byte, threshold int64) error {
	bw := bufio.NewWriter(w)
	r := elemReader{dt: h.DType, data: data}
	n, err := h.Shape.NumElements()
	if err != nil {
		return err
	}
	switch {
	case len(h.Shape) == 0:
		bw.WriteString(r.scalar(0))
	case n == 0:
		bw.WriteString("[]") // numpy prints any empty array so
	default:
		p := &arrayPrinter{
			w:         bw,
			shape:     h.Shape,
			strides:   h.Strides(),
			summarize: threshold >= 0 && n > threshold,
		}
		p.elem = p.formatter(r)
		p.rec(0, 0, " ", npLineWidth)
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// arrayPrinter walks an array in logical index order; offsets are byte
// offsets into the data region, from the strides, so F order works too.
type arrayPrinter struct {
	w         *bufio.Writer
	shape     arrayx.Shape
	strides   []int64
	summarize bool
	elem      func(off int64) string
}

// split says which indices of an axis are shown: the first lead and the
// last trail, with "..." between them when summary is set.
func (p *arrayPrinter) split(axis int) (lead, trail int64, summary bool) {
	if n := p.shape[axis]; !p.summarize || n <= 2*npEdgeItems {
		return 0, n, false
	}
	return npEdgeItems, npEdgeItems, true
}

// eachShown calls fn with the offset of every element that is printed: the
// formatters size their columns from these alone, as numpy does.
func (p *arrayPrinter) eachShown(fn func(off int64)) { p.walk(0, 0, fn) }

func (p *arrayPrinter) walk(axis int, base int64, fn func(int64)) {
	if axis == len(p.shape) {
		fn(base)
		return
	}
	lead, trail, _ := p.split(axis)
	n, st := p.shape[axis], p.strides[axis]
	for i := range lead {
		p.walk(axis+1, base+i*st, fn)
	}
	for i := n - trail; i < n; i++ {
		p.walk(axis+1, base+i*st, fn)
	}
}

// rec prints the sub-array at base spanning axes [axis, ndim) as numpy's
// _formatArray recurser does: hang is the indent of continuation lines and
// width the line width left at this depth.
func (p *arrayPrinter) rec(axis int, base int64, hang string, width int) {
	p.w.WriteByte('[')
	// numpy builds the text with hang before the first row too, then drops it.
	first := true
	put := func(s string) {
		if first {
			s = s[min(len(hang), len(s)):]
			first = false
		}
		p.w.WriteString(s)
	}
	lead, trail, summary := p.split(axis)
	n, st := p.shape[axis], p.strides[axis]
	if axis == len(p.shape)-1 {
		// The last axis: elements separated by spaces, wrapped to width, less
		// one for the closing bracket.
		elemWidth := width - 1
		line := []byte(hang)
		extend := func(word string) {
			if len(line)+len(word) > elemWidth && len(line) > len(hang) {
				put(strings.TrimRight(string(line), " ") + "\n")
				line = append(line[:0], hang...)
			}
			line = append(line, word...)
		}
		for i := range lead {
			extend(p.elem(base + i*st))
			line = append(line, ' ')
		}
		if summary {
			extend("...")
			line = append(line, ' ')
		}
		for i := n - trail; i < n-1; i++ {
			extend(p.elem(base + i*st))
			line = append(line, ' ')
		}
		extend(p.elem(base + (n-1)*st))
		put(string(line))
	} else {
		// Other axes: one sub-array per row, separated by as many newlines
		// as axes remain below.
		sep := strings.Repeat("\n", len(p.shape)-axis-1)
		row := func(i int64) {
			put(hang)
			p.rec(axis+1, base+i*st, hang+" ", width-1)
		}
		for i := range lead {
			row(i)
			put(sep)
		}
		if summary {
			put(hang + "..." + sep)
		}
		for i := n - trail; i < n-1; i++ {
			row(i)
			put(sep)
		}
		row(n - 1)
	}
	p.w.WriteByte(']')
}

// formatter returns the element formatter of the array's dtype, sized from
// the shown elements.
func (p *arrayPrinter) formatter(r elemReader) func(int64) string {
	switch r.dt {
	case arrayx.Bool:
		return func(off int64) string {
			if r.data[off] != 0 {
				return " True"
			}
			return "False"
		}
	case arrayx.Int8, arrayx.Int16, arrayx.Int32, arrayx.Int64:
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		p.eachShown(func(off int64) {
			v := r.int(off)
			lo, hi = min(lo, v), max(hi, v)
		})
		w := max(len(strconv.FormatInt(lo, 10)), len(strconv.FormatInt(hi, 10)))
		return func(off int64) string { return padLeft(strconv.FormatInt(r.int(off), 10), w) }
	case arrayx.Uint8, arrayx.Uint16, arrayx.Uint32, arrayx.Uint64:
		var hi uint64
		p.eachShown(func(off int64) { hi = max(hi, r.uint(off)) })
		w := len(strconv.FormatUint(hi, 10))
		return func(off int64) string { return padLeft(strconv.FormatUint(r.uint(off), 10), w) }
	case arrayx.Complex64, arrayx.Complex128:
		re := newFloatFormat(r.kind(), false, func(fn func(float64)) {
			p.eachShown(func(off int64) { fn(r.float(off)) })
		})
		im := newFloatFormat(r.kind(), true, func(fn func(float64)) {
			p.eachShown(func(off int64) { fn(r.float(off + int64(r.dt.ItemSize()/2))) })
		})
		return func(off int64) string {
			i := im.format(r.float(off + int64(r.dt.ItemSize()/2)))
			// The j goes before the imaginary part's padding.
			sp := len(strings.TrimRight(i, " "))
			return re.format(r.float(off)) + i[:sp] + "j" + i[sp:]
		}
	default:
		f := newFloatFormat(r.kind(), false, func(fn func(float64)) {
			p.eachShown(func(off int64) { fn(r.float(off)) })
		})
		return func(off int64) string { return f.format(r.float(off)) }
	}
}

// floatFormat is numpy's FloatingFormat: every element gets the same width,
// positional or, for wide ranges of magnitudes, scientific notation.
type floatFormat struct {
	kind      floatKind
	plus      bool // always print the sign (imaginary parts)
	exp       bool // scientific notation
	padLeft   int  // width of the integer part, sign included
	padRight  int  // width after the point (positional: digits; exp: digits and exponent)
	prec      int  // exp: digits after the point
	expDigits int  // exp: digits of the exponent
}

// newFloatFormat sizes a format from the values each yields; each is called
// at most twice.
func newFloatFormat(kind floatKind, plus bool, each func(func(float64))) *floatFormat {
	f := &floatFormat{kind: kind, plus: plus}
	var (
		lo, hi         = math.Inf(1), 0.0 // over finite non-zero magnitudes
		finite, nonFin bool
		negInf         bool
	)
	each(func(x float64) {
		switch {
		case math.IsNaN(x):
			nonFin = true
		case math.IsInf(x, 0):
			nonFin = true
			negInf = negInf || x < 0
		default:
			finite = true
			if a := math.Abs(x); a != 0 {
				lo, hi = min(lo, a), max(hi, a)
			}
		}
	})
	if hi != 0 && (hi >= 1e8 || lo < 0.0001 || kind.round(hi/lo) > 1000) {
		f.exp = true
	}
	if finite {
		each(func(x float64) {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return
			}
			sign := f.sign(x)
			if f.exp {
				ip, fp, e := sciDigits(math.Abs(x), kind)
				f.padLeft = max(f.padLeft, len(sign)+len(ip))
				f.prec = max(f.prec, len(fp))
				f.expDigits = max(f.expDigits, len(expString(e, 0))-1)
			} else {
				ip, fp := posDigits(math.Abs(x), kind)
				f.padLeft = max(f.padLeft, len(sign)+len(ip))
				f.padRight = max(f.padRight, len(fp))
			}
		})
		if f.exp {
			f.padRight = f.expDigits + 2 + f.prec
		}
	}
	if nonFin {
		inf := len("inf")
		if plus || negInf {
			inf++
		}
		off := f.padRight + 1
		f.padLeft = max(f.padLeft, len("nan")-off, inf-off)
	}
	return f
}

func (f *floatFormat) sign(x float64) string {
	switch {
	case math.Signbit(x):
		return "-"
	case f.plus:
		return "+"
	}
	return ""
}

func (f *floatFormat) format(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		s := "nan"
		switch {
		case math.IsInf(x, -1):
			s = "-inf"
		case math.IsInf(x, 1):
			s = "inf"
			if f.plus {
				s = "+inf"
			}
		case f.plus:
			s = "+nan"
		}
		return padLeft(s, f.padLeft+f.padRight+1)
	}
	sign := f.sign(x)
	if f.exp {
		// Every element gets prec digits after the point: numpy prints real
		// digits of x past its shortest ones (min_digits), not zeros, which
		// shows for float16 and float32, whose shortest digits are not x's.
		digits, e := splitE(strconv.FormatFloat(math.Abs(x), 'e', f.prec, 64))
		return padLeft(sign+digits[:1], f.padLeft) + "." + digits[1:] + "e" + expString(e, f.expDigits)
	}
	ip, fp := posDigits(math.Abs(x), f.kind)
	return padLeft(sign+ip, f.padLeft) + "." + fp + strings.Repeat(" ", f.padRight-len(fp))
}

// splitDigits places the decimal point in significant digits whose first
// digit has decimal exponent e: ("125", 1) is "12" and "5".
func splitDigits(digits string, e int) (ip, fp string) {
	switch {
	case e < 0:
		return "0", strings.Repeat("0", -e-1) + digits
	case len(digits) <= e+1:
		return digits + strings.Repeat("0", e+1-len(digits)), ""
	}
	return digits[:e+1], digits[e+1:]
}

// posDigits formats a non-negative finite x positionally, as numpy's
// dragon4_positional(unique=True, precision=8, trim='.'): the shortest
// digits that identify x, unless they run past 8 places, where x is rounded.
// Trailing zeros after the point are dropped.
func posDigits(x float64, k floatKind) (ip, fp string) {
	digits, e := k.shortest(x)
	if len(digits)-1-e > npPrecision {
		ip, fp, _ = strings.Cut(strconv.FormatFloat(x, 'f', npPrecision, 64), ".")
		return ip, strings.TrimRight(fp, "0")
	}
	ip, fp = splitDigits(digits, e)
	return ip, strings.TrimRight(fp, "0")
}

// sciDigits formats a non-negative finite x as d.ddd × 10^e, as numpy's
// dragon4_scientific(unique=True, precision=8, trim='.').
func sciDigits(x float64, k floatKind) (ip, fp string, e int) {
	digits, e := k.shortest(x)
	if len(digits)-1 > npPrecision {
		digits, e = splitE(strconv.FormatFloat(x, 'e', npPrecision, 64))
		digits = strings.TrimRight(digits, "0")
		if digits == "" {
			digits = "0"
		}
	}
	return digits[:1], digits[1:], e
}

// expString formats an exponent as numpy does: a sign and at least
// max(2, minDigits) digits.
func expString(e, minDigits int) string {
	sign := "+"
	if e < 0 {
		sign, e = "-", -e
	}
	s := strconv.Itoa(e)
	return sign + strings.Repeat("0", max(0, max(2, minDigits)-len(s))) + s
}

// splitE splits strconv's 'e' format of a non-negative number, "1.2345e+06",
// into its digits ("12345") and decimal exponent (6).
func splitE(s string) (digits string, exp int) {
	m, es, _ := strings.Cut(s, "e")
	exp, _ = strconv.Atoi(es)
	return strings.Replace(m, ".", "", 1), exp
}

func padLeft(s string, w int) string {
	if len(s) >= w {
		return s
	}
	return strings.Repeat(" ", w-len(s)) + s
}

// floatKind is the precision a float was stored with: shortest digits and
// rounding depend on it.
type floatKind int

const (
	kindFloat64 floatKind = iota
	kindFloat32
	kindFloat16
	kindBFloat16
)

// shortest returns the shortest digits that identify the non-negative
// finite x among values of kind k (the closest such digits to x), as d.ddd
// × 10^exp. Zero is ("0", 0).
func (k floatKind) shortest(x float64) (digits string, exp int) {
	switch k {
	case kindFloat64:
		return splitE(strconv.FormatFloat(x, 'e', -1, 64))
	case kindFloat32:
		return splitE(strconv.FormatFloat(x, 'e', -1, 32))
	}
	if x == 0 {
		return "0", 0
	}
	// strconv has no 16-bit floats: try 1, 2, ... significant digits. The
	// interval of reals that round to x is [lo, hi], its ends included when
	// x's last bit is 0 (ties go to even).
	bits := k.bits(x)
	below := k.value(bits - 1)
	above := 2*x - below // past the largest finite value, as if the exponent went on
	if !k.isMaxFinite(bits) {
		above = k.value(bits + 1)
	}
	lo, hi := (below+x)/2, (x+above)/2
	even := bits&1 == 0
	ok := func(v float64) bool { return lo < v && v < hi || even && (v == lo || v == hi) }
	for prec := 0; prec < 17; prec++ {
		d, e := splitE(strconv.FormatFloat(x, 'e', prec, 64))
		if v, _ := strconv.ParseFloat(d[:1]+"."+d[1:]+"e"+strconv.Itoa(e), 64); ok(v) {
			return strings.TrimRight(d, "0"), e
		}
		// The nearest digits may miss a lopsided interval (at a power of
		// two) that the next ones up or down hit.
		m, _ := strconv.ParseUint(d, 10, 64)
		for _, alt := range []uint64{m + 1, m - 1} {
			s := strconv.FormatUint(alt, 10)
			ae := e + len(s) - len(d)
			if v, _ := strconv.ParseFloat(s+"e"+strconv.Itoa(e-prec), 64); ok(v) {
				return strings.TrimRight(s, "0"), ae
			}
		}
	}
	return splitE(strconv.FormatFloat(x, 'e', -1, 32))
}

// bits and value convert between a non-negative 16-bit float and float64.
func (k floatKind) bits(x float64) uint16 {
	if k == kindBFloat16 {
		return arrayx.Float32ToBFloat16(float32(x))
	}
	return arrayx.Float32ToFloat16(float32(x))
}

func (k floatKind) value(b uint16) float64 {
	if k == kindBFloat16 {
		return float64(arrayx.BFloat16ToFloat32(b))
	}
	return float64(arrayx.Float16ToFloat32(b))
}

func (k floatKind) isMaxFinite(b uint16) bool {
	if k == kindBFloat16 {
		return b == 0x7f7f
	}
	return b == 0x7bff
}

// round rounds x to kind k, as numpy computes in the array's dtype.
func (k floatKind) round(x float64) float64 {
	switch k {
	case kindFloat64:
		return x
	case kindFloat16:
		return float64(arrayx.Float16ToFloat32(arrayx.Float32ToFloat16(float32(x))))
	}
	return float64(float32(x))
}

// elemReader decodes little-endian elements at byte offsets of the data.
type elemReader struct {
	dt   arrayx.DType
	data []byte
}

func (r elemReader) kind() floatKind {
	switch r.dt {
	case arrayx.Float32, arrayx.Complex64:
		return kindFloat32
	case arrayx.Float16:
		return kindFloat16
	case arrayx.BFloat16:
		return kindBFloat16
	}
	return kindFloat64
}

func (r elemReader) int(off int64) int64 {
	b := r.data[off:]
	switch r.dt {
	case arrayx.Int8:
		return int64(int8(b[0]))
	case arrayx.Int16:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case arrayx.Int32:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return int64(binary.LittleEndian.Uint64(b))
}

func (r elemReader) uint(off int64) uint64 {
	b := r.data[off:]
	switch r.dt {
	case arrayx.Uint8:
		return uint64(b[0])
	case arrayx.Uint16:
		return uint64(binary.LittleEndian.Uint16(b))
	case arrayx.Uint32:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// float reads a float, or one part of a complex number, at off.
func (r elemReader) float(off int64) float64 {
	b := r.data[off:]
	switch r.dt {
	case arrayx.Float16:
		return float64(arrayx.Float16ToFloat32(binary.LittleEndian.Uint16(b)))
	case arrayx.BFloat16:
		return float64(arrayx.BFloat16ToFloat32(binary.LittleEndian.Uint16(b)))
	case arrayx.Float32, arrayx.Complex64:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// scalar formats the element at off as numpy prints a 0-d array, which is
// how it prints the scalar: 1.5, 1.0, 1e+16, True, (1+2j).
func (r elemReader) scalar(off int64) string {
	switch r.dt {
	case arrayx.Bool:
		if r.data[off] != 0 {
			return "True"
		}
		return "False"
	case arrayx.Int8, arrayx.Int16, arrayx.Int32, arrayx.Int64:
		return strconv.FormatInt(r.int(off), 10)
	case arrayx.Uint8, arrayx.Uint16, arrayx.Uint32, arrayx.Uint64:
		return strconv.FormatUint(r.uint(off), 10)
	case arrayx.Complex64, arrayx.Complex128:
		re := r.float(off)
		im := scalarFloat(r.float(off+int64(r.dt.ItemSize()/2)), r.kind(), false)
		if im[0] != '-' {
			im = "+" + im
		}
		if re == 0 && !math.Signbit(re) {
			return strings.TrimPrefix(im, "+") + "j"
		}
		return "(" + scalarFloat(re, r.kind(), false) + im + "j)"
	}
	return scalarFloat(r.float(off), r.kind(), true)
}

// scalarFloat formats a float like Python's repr (numpy's scalar str):
// positional from 1e-4 up to 1e16, else scientific. dot0 keeps ".0" on
// integral values (complex parts drop it, as Python does).
func scalarFloat(x float64, k floatKind, dot0 bool) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	sign := ""
	if math.Signbit(x) {
		sign = "-"
	}
	a := math.Abs(x)
	digits, e := k.shortest(a)
	if a == 0 || a >= 1e-4 && a < 1e16 {
		ip, fp := splitDigits(digits, e)
		if fp == "" || fp == "0" {
			if dot0 {
				return sign + ip + ".0"
			}
			return sign + ip
		}
		return sign + ip + "." + fp
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	return sign + m + "e" + expString(e, 2)
}
