package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/arrayx/arrayx/mmapstore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
)

// Arrow Flight over gRPC (on loopback or between namespaces), as a user of arrow-go would write it: the
// sender's batches are zero-copy slices of the source array's mapping (its
// data is already Arrow-shaped in memory), the receiver keeps every batch it
// receives (it wants the array, like every other receiver here). The only
// setting changed from gRPC's defaults is the message size limit, raised to
// fit one batch when batches are larger than the default allows (4 MiB).
// The default batch, 1 MiB, was as fast as any other size tried here
// (64 KiB: half the speed; 4 MiB: the same; 16 MiB: half).

// flightMaxMsg is the gRPC message limit for batches of rows float64 rows:
// the batch and room for its metadata, at least gRPC's default of 4 MiB.
func flightMaxMsg(rows int64) int { return max(4<<20, int(rows*8)+1<<20) }

// flightSource opens the source array and slices it into batches.
func flightSource(c *child) (*mmapstore.Array, []arrow.RecordBatch, error) {
	a, err := mmapstore.Open(c.ArxPath, nil)
	if err != nil {
		return nil, nil, err
	}
	recs, err := arrowBatches(a.Bytes(), c.FlightRows)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, recs, nil
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// flightService serves DoGet from the source batches and keeps what DoPut
// receives.
type flightService struct {
	flight.BaseFlightServer
	send []arrow.RecordBatch
	once sync.Once
	done chan struct{} // closed when the first DoGet or DoPut returns
	err  error
	got  []arrow.RecordBatch
}

func (s *flightService) finish(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

func (s *flightService) DoGet(_ *flight.Ticket, stream flight.FlightService_DoGetServer) (err error) {
	defer func() { s.finish(err) }()
	w := flight.NewRecordWriter(stream, ipc.WithSchema(arrowSchema))
	for _, r := range s.send {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return w.Close()
}

func (s *flightService) DoPut(stream flight.FlightService_DoPutServer) (err error) {
	defer func() { s.finish(err) }()
	r, err := flight.NewRecordReader(stream)
	if err != nil {
		return err
	}
	defer r.Release()
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		s.got = append(s.got, rec)
	}
	return r.Err()
}

// flightServer serves one DoGet (option "get": the server is the sender) or
// one DoPut (option "put": the server is the receiver).
func flightServer(c *child) error {
	svc := &flightService{done: make(chan struct{})}
	if c.Opt == "get" {
		a, recs, err := flightSource(c)
		if err != nil {
			return err
		}
		defer a.Close()
		defer release(recs)
		svc.send = recs
	}
	l, err := listen(c)
	if err != nil {
		return err
	}
	limit := flightMaxMsg(c.FlightRows)
	srv := flight.NewServerWithMiddleware(nil, grpc.MaxRecvMsgSize(limit), grpc.MaxSendMsgSize(limit))
	srv.RegisterFlightService(svc)
	srv.InitListener(l)
	go srv.Serve()
	defer srv.Shutdown()
	c.ready(l.Addr().String())
	c.begin()
	select {
	case <-svc.done:
	case <-c.stop:
		svc.finish(errors.New("bench: stopped before the transfer ended"))
	}
	c.end()
	c.recordTCP()
	<-c.stop // the client has exited: verify now, stop serving only then
	if svc.err != nil {
		return svc.err
	}
	if c.Opt == "get" {
		c.rep.Verified = "the client checks values"
		return nil
	}
	defer release(svc.got)
	return c.verifyBatches(svc.got)
}

// flightDial connects a Flight client and waits for the connection, so that
// connecting is not part of the transfer.
func flightDial(ctx context.Context, c *child) (flight.Client, *grpc.ClientConn, error) {
	limit := flightMaxMsg(c.FlightRows)
	cc, err := grpc.NewClient(c.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithNoProxy(), // a namespace host's address is not loopback: never through $https_proxy
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(limit), grpc.MaxCallSendMsgSize(limit)))
	if err != nil {
		return nil, nil, err
	}
	cc.Connect()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		if s == connectivity.TransientFailure || s == connectivity.Shutdown || !cc.WaitForStateChange(ctx, s) {
			cc.Close()
			return nil, nil, fmt.Errorf("bench: connecting to the Flight server: %s", s)
		}
	}
	return flight.NewClientFromConn(cc, nil), cc, nil
}

// flightGet is the DoGet client: the receiver, and the timed side.
func flightGet(c *child) error {
	ctx := context.Background()
	cl, cc, err := flightDial(ctx, c)
	if err != nil {
		return err
	}
	defer cc.Close()
	var got []arrow.RecordBatch
	defer func() { release(got) }()
	c.begin()
	stream, err := cl.DoGet(ctx, &flight.Ticket{Ticket: []byte("x")})
	if err != nil {
		return err
	}
	r, err := flight.NewRecordReader(stream)
	if err != nil {
		return err
	}
	defer r.Release()
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		got = append(got, rec)
	}
	if err := r.Err(); err != nil {
		return err
	}
	c.end()
	c.recordTCP()
	c.rep.Method = fmt.Sprintf("DoGet, %d batches", len(got))
	return c.verifyBatches(got)
}

// flightPut is the DoPut client: the sender, and the timed side. The server
// returns from DoPut once it has read every batch, which ends the stream.
func flightPut(c *child) error {
	ctx := context.Background()
	a, recs, err := flightSource(c)
	if err != nil {
		return err
	}
	defer a.Close()
	defer release(recs)
	cl, cc, err := flightDial(ctx, c)
	if err != nil {
		return err
	}
	defer cc.Close()
	c.begin()
	stream, err := cl.DoPut(ctx)
	if err != nil {
		return err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(arrowSchema))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	c.end()
	c.recordTCP()
	c.rep.Method = fmt.Sprintf("DoPut, %d batches", len(recs))
	c.rep.Verified = "the server checks values"
	return nil
}

// verifyBatches checks received batches, in order, against the data.
func (c *child) verifyBatches(recs []arrow.RecordBatch) error {
	k := newChecker(c.Params)
	for _, rec := range recs {
		col, ok := rec.Column(0).(*array.Float64)
		if !ok {
			return fmt.Errorf("bench: column is %s, want float64", rec.Column(0).DataType())
		}
		if err := k.add(col.Float64Values()); err != nil {
			return err
		}
	}
	v, err := k.done()
	c.rep.Verified = fmt.Sprintf("%s, in %d batches", v, len(recs))
	return err
}
