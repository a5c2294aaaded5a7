#!/usr/bin/env python3
"""Python reference timing for `astrodiff stats`: Pylians3 Pk_plane (P(k) of rho), numpy.histogram
and quantimpy 0.2.6 minkowski.functionals (MFs of log10 rho > u) on the same maps, edges and
thresholds as crates/stats/examples/stats_bench.rs (read from its JSON).

Two worker processes (one map per task, each single-threaded: Pk_plane threads=1) use the
same 2 cores as the Rust side; times are wall-clock over all maps divided by the number of maps.
It also checks map 0 against the Rust numbers so both sides provably measure the same thing.

Usage: stats_reference.py MAPS.npy --rust-json rust.json [--threads 2] [--json out.json]
"""
import argparse
import json
import os
import time
from multiprocessing import Pool

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import Pk_library as PKL  # noqa: E402
from quantimpy import minkowski as mk  # noqa: E402

MAPS = None
CFG = None


def init(path, cfg):
    global MAPS, CFG
    MAPS = np.load(path, mmap_mode="r")
    CFG = cfg


def pk(i):
    delta = np.array(MAPS[i], dtype=np.float32)  # a writable copy: Pylians needs one
    return PKL.Pk_plane(delta, CFG["box_size"], "None", 1, False).Pk


def pdf(i):
    x = np.log10(MAPS[i].astype(np.float64))
    return np.histogram(x, CFG["edges"])[0]


def mfs(i):
    x = np.log10(MAPS[i].astype(np.float64))
    return [mk.functionals(x > u) for u in CFG["thresholds"]]


def total(i):
    return pk(i), pdf(i), mfs(i)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maps")
    ap.add_argument("--rust-json", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    rust = json.load(open(a.rust_json))
    cfg = {"box_size": rust["box_size"], "edges": np.array(rust["edges"]), "thresholds": rust["thresholds"]}
    n = np.load(a.maps, mmap_mode="r").shape[0]
    out = {"n_maps": n, "threads": a.threads, "loadavg": open("/proc/loadavg").read().strip()}
    with Pool(a.threads, initializer=init, initargs=(a.maps, cfg)) as pool:
        pool.map(pk, range(min(n, 2 * a.threads)))  # warm-up: imports, FFTW plans, page cache
        for key, fn in [("pk_ms", pk), ("pdf_ms", pdf), ("mf_ms", mfs), ("total_ms", total)]:
            t = time.perf_counter()
            res = pool.map(fn, range(n), chunksize=8)
            out[key] = (time.perf_counter() - t) * 1e3 / n
            if key == "total_ms":
                p0, h0, m0 = res[0]
    # same numbers as the Rust side on map 0
    c = rust["check_map0"]
    # the fixtures README's criterion for float32 Pylians: |dP| relative to max P
    rel = np.max(np.abs(np.array(p0) - c["pk"])) / np.max(np.abs(c["pk"]))
    m0 = np.array(m0)
    out["check"] = {
        "pk_max_abs_diff_over_max_vs_rust (Pylians float32)": float(rel),
        "histogram_counts_equal": bool(np.array_equal(h0, c["counts"])),
        "quantimpy_area_equal": bool(np.array_equal(m0[:, 0], c["area"])),
        "quantimpy_length_max_abs_diff": float(np.max(np.abs(m0[:, 1] - c["length"]))),
        "quantimpy_euler_max_abs_diff": float(np.max(np.abs(m0[:, 2] - c["euler"]))),
    }
    print(json.dumps(out, indent=1))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
