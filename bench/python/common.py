"""The harness's side of a Python child: parameters, the measured window,
the checks and the report (the Python twin of child.go and verify.go)."""

import json
import os
import resource
import sys
import time
import traceback

import numpy


def _peak_rss(ru):
    """VmHWM: the peak RSS of this address space (ru_maxrss also counts the
    parent's memory at the fork, carried across exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru.ru_maxrss * 1024


class Child:
    def __init__(self):
        self.p = json.loads(os.environ["ARRAYX_BENCH_PARAMS"])
        self.rep = {"lang": "python", "ok": False}
        self._t0 = None
        self._ru0 = None

    def ready(self, addr):
        """Tell the harness the server is listening and set up."""
        print("ready", addr, flush=True)

    def begin(self):
        self._ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self._t0 = time.perf_counter()

    def phase(self, name):
        self.rep.setdefault("phases", {})[name] = time.perf_counter() - self._t0

    def end(self):
        t = time.perf_counter()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        r0 = self._ru0
        self.rep.update(
            seconds=t - self._t0,
            user_s=ru.ru_utime - r0.ru_utime,
            sys_s=ru.ru_stime - r0.ru_stime,
            vcsw=ru.ru_nvcsw - r0.ru_nvcsw,
            ivcsw=ru.ru_nivcsw - r0.ru_nivcsw,
            maxrss_bytes=_peak_rss(ru),
        )
        self._ended = True

    def check(self, a, s=None):
        """Verify a whole received array a: sampled elements exactly, and the
        sum of all of them (s, if the case already computed it) against its
        closed form."""
        n, shift = self.p["n"], self.p["shift"]
        if a.dtype != numpy.float64 or a.shape != (n,):
            raise ValueError("got %s %s, want float64 (%d,)" % (a.dtype, a.shape, n))
        idx = numpy.unique(numpy.linspace(0, n - 1, num=min(n, 1025)).astype(numpy.int64))
        bad = numpy.flatnonzero(a[idx] != idx + shift)
        if bad.size:
            i = int(idx[bad[0]])
            raise ValueError("element %d is %r, want %r" % (i, float(a[i]), float(i + shift)))
        if s is None:
            s = float(a.sum())
        want = n * (n - 1) // 2 + shift * n
        if want < 2**53:
            if s != want:
                raise ValueError("sum is %r, want %d" % (s, want))
        elif abs(s - want) > 1e-9 * want:
            raise ValueError("sum is %r, want %d (to 1e-9)" % (s, want))
        self.rep["verified"] = "sum of all %d elements and %d sampled elements exact" % (n, idx.size)

    def run(self, fn):
        try:
            fn(self)
            if not getattr(self, "_ended", False):
                raise RuntimeError("the measurement window was never closed")
            self.rep["ok"] = True
        except Exception as e:
            self.rep["error"] = "%s: %s" % (type(e).__name__, e)
            traceback.print_exc()
        print(json.dumps(self.rep), flush=True)
        sys.exit(0 if self.rep["ok"] else 1)
