package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/arrayx/arrayx/arrayx"
)

// Fill modes of create --fill.
const (
	fillZeros  = "zeros"  // nothing to write: a new array is zero
	fillOnes   = "ones"   // every element 1 (true, 1+0i)
	fillArange = "arange" // element i in memory order is i, converted (ints wrap)
	fillRandom = "random" // uniform, from --seed; see fillChunk
)

var fillModes = []string{fillZeros, fillOnes, fillArange, fillRandom}

// fillChunk is the number of elements one task fills. Random fills seed a
// PCG generator per chunk from (seed, chunk index), so the data depends on
// the seed alone, not on GOMAXPROCS or scheduling. This constant is part of
// what --fill random means: changing it changes the data of every seed.
const fillChunk = 1 << 16

// Random values by dtype: floats uniform in [0, 1) (float16 and bfloat16 on
// the grid k/2^11 and k/2^8, which they represent exactly, so rounding never
// yields 1), complex numbers with both parts so, integers uniform over all
// bit patterns, bools 0 or 1.
const (
	half16Steps = 1 << 11 // float16 has 11 significant bits
	bf16Steps   = 1 << 8  // bfloat16 has 8
)

var errArangeBool = errors.New("--fill arange is not defined for bool (use zeros, ones or random)")

// chunkFunc fills elements [lo, hi) in memory order; r is nil unless the
// mode is random.
type chunkFunc func(lo, hi int, r *rand.Rand)

// checkFill validates a fill mode for a dtype before anything is created.
func checkFill(mode string, dt arrayx.DType) error {
	for _, m := range fillModes {
		if m == mode {
			if mode == fillArange && dt == arrayx.Bool {
				return errArangeBool
			}
			return nil
		}
	}
	return fmt.Errorf("unknown --fill %q: want one of zeros, ones, arange, random", mode)
}

// fill writes mode's values into a's data (a writer's mapping), in parallel
// over fixed-size chunks, reporting bytes done to bar.
func fill(ctx context.Context, a arrayx.Array, mode string, seed uint64, bar *progress) error {
	h := a.Header()
	if err := checkFill(mode, h.DType); err != nil {
		return err
	}
	if mode == fillZeros {
		return nil
	}
	fn, err := chunkFiller(a, mode)
	if err != nil {
		return err
	}
	n := int(h.NBytes / int64(h.DType.ItemSize())) // the mapping fits in an int
	return forChunks(ctx, n, h.DType.ItemSize(), mode == fillRandom, seed, fn, bar)
}

// forChunks runs fn over [0, n) in chunks of fillChunk elements on
// GOMAXPROCS goroutines. A memory fault while writing the mapping (a full
// filesystem without fallocate) becomes an error instead of a crash.
func forChunks(ctx context.Context, n, itemSize int, random bool, seed uint64, fn chunkFunc, bar *progress) error {
	chunks := (n + fillChunk - 1) / fillChunk
	var (
		next    atomic.Int64
		errOnce sync.Once
		failErr error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { failErr = err })
		next.Store(int64(chunks)) // stop handing out work
	}
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Go(func() {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					fail(fmt.Errorf("memory fault writing the array: %v", r))
				}
			}()
			var (
				pcg rand.PCG
				r   *rand.Rand
			)
			if random {
				r = rand.New(&pcg)
			}
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				pcg.Seed(seed, chunkStream(uint64(c)))
				lo := c * fillChunk
				hi := min(lo+fillChunk, n)
				fn(lo, hi, r)
				bar.add(int64(hi-lo) * int64(itemSize))
			}
		})
	}
	wg.Wait()
	return failErr
}

// chunkStream scrambles a chunk index (splitmix64's finalizer) so that the
// generators of neighbouring chunks start far apart.
func chunkStream(c uint64) uint64 {
	c += 0x9e3779b97f4a7c15
	c = (c ^ c>>30) * 0xbf58476d1ce4e5b9
	c = (c ^ c>>27) * 0x94d049bb133111eb
	return c ^ c>>31
}

// chunkFiller returns the chunk function of mode for a's dtype, writing
// through a typed view of its data.
func chunkFiller(a arrayx.Array, mode string) (chunkFunc, error) {
	switch a.Header().DType {
	case arrayx.Bool:
		b, err := arrayx.BoolBytes(a)
		return byteFiller(b, mode), err
	case arrayx.Int8:
		return intFiller[int8](a, mode)
	case arrayx.Int16:
		return intFiller[int16](a, mode)
	case arrayx.Int32:
		return intFiller[int32](a, mode)
	case arrayx.Int64:
		return intFiller[int64](a, mode)
	case arrayx.Uint8:
		return intFiller[uint8](a, mode)
	case arrayx.Uint16:
		return intFiller[uint16](a, mode)
	case arrayx.Uint32:
		return intFiller[uint32](a, mode)
	case arrayx.Uint64:
		return intFiller[uint64](a, mode)
	case arrayx.Float16:
		b, err := arrayx.Float16Bits(a)
		return halfFiller(b, mode, arrayx.Float32ToFloat16, half16Steps), err
	case arrayx.BFloat16:
		b, err := arrayx.BFloat16Bits(a)
		return halfFiller(b, mode, arrayx.Float32ToBFloat16, bf16Steps), err
	case arrayx.Float32:
		return typedFiller(a, mode, 1,
			func(i int) float32 { return float32(i) },
			func(r *rand.Rand) float32 { return r.Float32() })
	case arrayx.Float64:
		return typedFiller(a, mode, 1,
			func(i int) float64 { return float64(i) },
			func(r *rand.Rand) float64 { return r.Float64() })
	case arrayx.Complex64:
		return typedFiller(a, mode, 1,
			func(i int) complex64 { return complex(float32(i), 0) },
			func(r *rand.Rand) complex64 { return complex(r.Float32(), r.Float32()) })
	case arrayx.Complex128:
		return typedFiller(a, mode, 1,
			func(i int) complex128 { return complex(float64(i), 0) },
			func(r *rand.Rand) complex128 { return complex(r.Float64(), r.Float64()) })
	}
	return nil, fmt.Errorf("fill: unsupported dtype %v", a.Header().DType)
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// intFiller: arange wraps (int8 element 200 is -56), random is uniform bits.
func intFiller[T integer](a arrayx.Array, mode string) (chunkFunc, error) {
	return typedFiller(a, mode, 1,
		func(i int) T { return T(i) },
		func(r *rand.Rand) T { return T(r.Uint64()) })
}

func typedFiller[T arrayx.Element](a arrayx.Array, mode string, one T, at func(int) T, rnd func(*rand.Rand) T) (chunkFunc, error) {
	s, err := arrayx.Data[T](a)
	if err != nil {
		return nil, err
	}
	switch mode {
	case fillOnes:
		return func(lo, hi int, _ *rand.Rand) {
			for i := range s[lo:hi] {
				s[lo+i] = one
			}
		}, nil
	case fillArange:
		return func(lo, hi int, _ *rand.Rand) {
			for i := lo; i < hi; i++ {
				s[i] = at(i)
			}
		}, nil
	case fillRandom:
		return func(lo, hi int, r *rand.Rand) {
			for i := range s[lo:hi] {
				s[lo+i] = rnd(r)
			}
		}, nil
	}
	return nil, fmt.Errorf("fill: unknown mode %q", mode)
}

// byteFiller fills bool bytes: ones are 1, random is 0 or 1.
func byteFiller(b []uint8, mode string) chunkFunc {
	switch mode {
	case fillOnes:
		return func(lo, hi int, _ *rand.Rand) {
			for i := range b[lo:hi] {
				b[lo+i] = 1
			}
		}
	case fillRandom:
		return func(lo, hi int, r *rand.Rand) {
			var bits uint64
			for i := range b[lo:hi] {
				if i%64 == 0 {
					bits = r.Uint64()
				}
				b[lo+i] = uint8(bits & 1)
				bits >>= 1
			}
		}
	}
	return nil // checkFill refused arange
}

// halfFiller fills float16 or bfloat16 bits, converting through float32.
func halfFiller(b []uint16, mode string, conv func(float32) uint16, steps uint32) chunkFunc {
	switch mode {
	case fillOnes:
		one := conv(1)
		return func(lo, hi int, _ *rand.Rand) {
			for i := range b[lo:hi] {
				b[lo+i] = one
			}
		}
	case fillArange:
		return func(lo, hi int, _ *rand.Rand) {
			for i := lo; i < hi; i++ {
				b[i] = conv(float32(i))
			}
		}
	case fillRandom:
		return func(lo, hi int, r *rand.Rand) {
			for i := range b[lo:hi] {
				b[lo+i] = conv(float32(r.Uint32N(steps)) / float32(steps))
			}
		}
	}
	return nil
}
