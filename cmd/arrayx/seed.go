package main

import (
	"fmt"
	"strconv"
)

// decimalUint64 is a pflag.Value for --seed: decimal digits only. pflag's
// Uint64 takes Go's prefixes, so "--seed 010" was 8 and "--seed 0x10" 16,
// which a seed copied from a log or another tool should never be.
type decimalUint64 uint64

func (d *decimalUint64) String() string { return strconv.FormatUint(uint64(*d), 10) }
func (d *decimalUint64) Type() string   { return "uint" }

func (d *decimalUint64) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a decimal number from 0 to %d", uint64(1<<64-1))
	}
	*d = decimalUint64(v)
	return nil
}
