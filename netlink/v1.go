package netlink

import (
	"github.com/arrayx/arrayx/mmapstore"
)

// Version 1's data phase, still served and spoken: after a PUT's reply (or
// a GET's FROM) the sender writes data bytes [offset, nbytes) raw, with no
// framing, and the receiver lands them block by block.

// v1Offset is where a version-1 sender starts for p: the first block p does
// not hold (the blocks it holds after that are sent again and dropped).
func v1Offset(p *mmapstore.Partial) int64 {
	h := p.Header()
	if m := p.Missing(); len(m) > 0 {
		off, _ := h.Block(m[0].Start)
		return off
	}
	return h.NBytes
}

// v1Send writes data bytes [off, nbytes) of a to c, a chunk at a time so
// that the write timeout bounds a stall, not the whole array.
func v1Send(c *conn, a *mmapstore.Array, off int64, forceCopy bool, progress func(int64)) (int64, bool, error) {
	nbytes := a.Header().NBytes
	var sent int64
	zeroCopy := true
	for off+sent < nbytes {
		if err := c.deadline(false, c.writeTimeout); err != nil {
			return sent, false, err
		}
		n := min(nbytes-off-sent, sendChunk)
		var w int64
		var zc bool
		var err error
		if forceCopy {
			w, err = a.CopyData(c.nc, off+sent, n)
		} else {
			w, zc, err = a.SendData(c.nc, off+sent, n)
		}
		sent += w
		zeroCopy = zeroCopy && zc
		if progress != nil && w > 0 {
			progress(w)
		}
		if err != nil {
			return sent, false, c.explain(err)
		}
	}
	return sent, zeroCopy, nil
}

// v1Recv lands data bytes [off, nbytes) from c into p, block by block,
// each verified as it completes. It stops at the first block that fails:
// its *arrayx.ChecksumError says which, and nothing after it is read, so
// the caller can answer at once.
func v1Recv(c *conn, p *mmapstore.Partial, off int64, progress func(int64)) (int64, error) {
	if testHookRecv != nil {
		testHookRecv(recvMethod)
	}
	h := p.Header()
	var got int64
	for i := int(off / max(h.BlockSize, 1)); i < h.NumBlocks(); i++ {
		boff, n := h.Block(i)
		if err := c.blockDeadline(); err != nil {
			return got, err
		}
		m, err := p.ReceiveAt(dataReader{c}, boff, n)
		got += m
		if err != nil {
			return got, err
		}
		if progress != nil {
			progress(m)
		}
	}
	return got, nil
}
