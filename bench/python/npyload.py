"""Local handoff with numpy: np.load of the .npy file with mmap_mode="r",
then the sum of all elements."""

import numpy as np

from common import Child


def main(c):
    c.begin()
    a = np.load(c.p["npy_path"], mmap_mode="r")
    c.phase("open")
    s = float(a.sum())
    c.end()
    c.check(a, s)


Child().run(main)
