package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// syncMetrics are what sync --watch exposes to Prometheus.
type syncMetrics struct {
	reg     *prometheus.Registry
	rounds  prometheus.Counter
	arrays  *prometheus.CounterVec
	bytes   prometheus.Counter
	reused  prometheus.Counter
	errors  prometheus.Counter
	lag     prometheus.Gauge
	success prometheus.Gauge
}

func newSyncMetrics() *syncMetrics {
	m := &syncMetrics{
		reg: prometheus.NewRegistry(),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{Name: "arrayx_sync_rounds_total",
			Help: "Sync rounds run: the catch-up, then one per batch of changes or retry."}),
		arrays: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arrayx_sync_arrays_total",
			Help: "Arrays replicated, by action: whole, delta (only changed blocks sent) or delete."}, []string{"action"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "arrayx_sync_sent_bytes_total",
			Help: "Data bytes sent to the destination."}),
		reused: prometheus.NewCounter(prometheus.CounterOpts{Name: "arrayx_sync_reused_bytes_total",
			Help: "Data bytes the destination copied from its old versions instead of receiving them."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "arrayx_sync_errors_total",
			Help: "Arrays that failed to replicate, and rounds that could not list a side."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "arrayx_sync_lag_seconds",
			Help: "For the last round that replicated an array: seconds from the newest such array's seal to the round's end."}),
		success: prometheus.NewGauge(prometheus.GaugeOpts{Name: "arrayx_sync_last_success_timestamp_seconds",
			Help: "Unix time of the end of the last round without errors."}),
	}
	m.reg.MustRegister(m.rounds, m.arrays, m.bytes, m.reused, m.errors, m.lag, m.success)
	for _, a := range []string{netlink.SyncWhole, netlink.SyncDelta, netlink.SyncDelete} {
		m.arrays.WithLabelValues(a) // present at 0 from the start
	}
	return m
}

// record adds a round's report; the lag is measured from the files' times
// (a sealed array's file time is its seal).
func (m *syncMetrics) record(st *mmapstore.Store, prefix string, r netlink.SyncReport, err error) {
	m.rounds.Inc()
	if err != nil && r.Checked == 0 {
		m.errors.Inc()
	}
	var newest time.Time
	for _, it := range r.Items {
		if it.Error != "" {
			m.errors.Inc()
			continue
		}
		m.arrays.WithLabelValues(it.Action).Inc()
		m.bytes.Add(float64(it.Bytes))
		m.reused.Add(float64(it.Reused))
		if it.Action == netlink.SyncDelete || st == nil {
			continue
		}
		if path, perr := st.Path(normPrefixName(prefix) + it.Name); perr == nil {
			if fi, serr := os.Stat(path); serr == nil && fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
	}
	if !newest.IsZero() {
		m.lag.Set(time.Since(newest).Seconds())
	}
	if err == nil {
		m.success.SetToCurrentTime()
	}
}

// normPrefixName makes a prefix a directory, as netlink does.
func normPrefixName(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	if p == "" {
		return ""
	}
	return p + "/"
}

// serve exposes the metrics at http://addr/metrics until stop.
func (m *syncMetrics) serve(addr string) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.Close()
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
