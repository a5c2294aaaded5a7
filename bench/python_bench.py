#!/usr/bin/env python3
"""astrodiff's Python functions against Pylians3 Pk_plane and quantimpy 0.2.6, called from the
same Python process on the same maps, one thread each side (Pk_plane threads=1; astrodiff with
RAYON_NUM_THREADS=1), so the ratio is per-core work plus call overhead, not parallelism.

Per map: the mean wall time over the maps of one call per map. Also a single 64^2 map, where the
call overhead dominates, and astrodiff on the whole stack in one call (its own parallelism off).
Map 0 is checked on both sides so they provably compute the same statistic.

Usage: python_bench.py MAPS.npy [--n-thresholds 25] [--json out.json]
"""
import argparse
import json
import os
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import Pk_library as PKL  # noqa: E402
from quantimpy import minkowski as mk  # noqa: E402

import astrodiff  # noqa: E402


def per_call(f, items, repeat=1):
    t0 = time.perf_counter()
    for _ in range(repeat):
        for x in items:
            f(x)
    return (time.perf_counter() - t0) / (repeat * len(items))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maps")
    ap.add_argument("--n-thresholds", type=int, default=25)
    ap.add_argument("--json")
    a = ap.parse_args()
    maps = np.load(a.maps).astype(np.float32)
    logm = np.log10(maps.astype(np.float64))
    n, side, _ = maps.shape
    box = 25.0
    t = np.linspace(*np.percentile(logm[0], [1, 99]), a.n_thresholds)

    # Same numbers first (map 0). Pylians computes in float32, hence the loose tolerance on P(k).
    ours = astrodiff.power_spectrum(maps[0], box).pk
    theirs = PKL.Pk_plane(np.array(maps[0]), box, "None", 1, False).Pk
    assert np.allclose(ours, theirs, rtol=2e-3), "P(k) differs from Pylians"
    q = astrodiff.minkowski(logm[0], t, convention="quantimpy")
    ref = np.array([mk.functionals(logm[0] > u) for u in t])
    assert np.allclose(np.stack([q.v0, q.v1, q.v2], 1), ref, rtol=1e-9, atol=1e-12), "MFs differ from quantimpy"

    rows = []
    pk_ours = per_call(lambda x: astrodiff.power_spectrum(x, box), maps)
    pk_theirs = per_call(lambda x: PKL.Pk_plane(np.array(x), box, "None", 1, False), maps)
    rows.append((f"P(k), {side}^2 map", pk_ours, pk_theirs))
    mf_ours = per_call(lambda x: astrodiff.minkowski(x, t, convention="quantimpy"), logm)
    mf_theirs = per_call(lambda x: [mk.functionals(x > u) for u in t], logm)
    rows.append((f"MFs ({len(t)} thresholds), {side}^2 map", mf_ours, mf_theirs))
    t0 = time.perf_counter()
    astrodiff.power_spectrum(maps, box)
    rows.append((f"P(k), whole stack in one call, per map", (time.perf_counter() - t0) / n, pk_theirs))
    t0 = time.perf_counter()
    astrodiff.minkowski(logm, t, convention="quantimpy")
    rows.append((f"MFs, whole stack in one call, per map", (time.perf_counter() - t0) / n, mf_theirs))
    small = [np.array(m[: 64, : 64]) for m in maps[: min(n, 50)]]
    small_log = [np.log10(m.astype(np.float64)) for m in small]
    t64 = np.linspace(*np.percentile(small_log[0], [1, 99]), a.n_thresholds)
    rows.append(("P(k), one 64^2 map (call overhead)",
                 per_call(lambda x: astrodiff.power_spectrum(x, box), small, 20),
                 per_call(lambda x: PKL.Pk_plane(np.array(x), box, "None", 1, False), small, 20)))
    rows.append(("MFs, one 64^2 map (call overhead)",
                 per_call(lambda x: astrodiff.minkowski(x, t64, convention="quantimpy"), small_log, 5),
                 per_call(lambda x: [mk.functionals(x > u) for u in t64], small_log, 5)))
    rows.append(("empty call: power_spectrum of a 2x2 map",
                 per_call(lambda x: astrodiff.power_spectrum(x, box), [np.ones((2, 2))], 2000),
                 float("nan")))

    print(f"\n{n} maps of {side}^2 from {a.maps}; 1 thread each side; load {os.getloadavg()[0]:.2f}")
    print(f"{'call':<46}{'astrodiff [ms]':>15}{'reference [ms]':>16}{'ratio':>8}")
    for name, ours_s, theirs_s in rows:
        print(f"{name:<46}{1e3 * ours_s:>15.3f}{1e3 * theirs_s:>16.3f}{ours_s / theirs_s:>8.3f}")
    print("reference: Pylians3 Pk_plane (P(k)), quantimpy.minkowski.functionals per threshold (MFs); "
          "ratio = astrodiff / reference (below 1: astrodiff faster)")
    if a.json:
        json.dump([{"call": r[0], "astrodiff_s": r[1], "reference_s": r[2]} for r in rows], open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
