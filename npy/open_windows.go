package npy

// openNonblock: Windows has no FIFOs that open would block on.
const openNonblock = 0
