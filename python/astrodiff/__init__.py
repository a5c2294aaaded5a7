"""astrodiff from numpy: the statistics, the judging and the simulator of the astrodiff toolkit,
with the same numbers as the ``astrodiff`` command line (the same Rust code computes both).

Conventions (docs/conventions.md in the repository):

* ``power_spectrum``: Pylians3 ``Pk_library.Pk_plane(delta, BoxSize, MAS='None')``. Unnormalised
  FFT of the field as given (no mean subtraction, no window deconvolution); integer bins
  ``floor(|q|)`` for q = 1 .. floor(sqrt(2)·N/2); ``k`` [h/Mpc] is 2π/L times the mean |q| of
  the bin, ``pk`` [(field units)² (Mpc/h)²] is (L/N²)² times the mean |F|², ``nmodes`` counts the
  half-plane modes.
* ``histogram``: numpy's rule (bins closed on the left, the last bin closed on both sides);
  ``pdf`` = counts/(n_total·width), ``density`` = ``np.histogram(density=True)``.
* ``minkowski``: excursion sets {x > u} (strict). ``periodic`` (default) treats the map as a
  torus: V0 = area fraction, V1 = contour length/(4·N²) [1/pixel], V2 = Euler characteristic
  (8-connectivity)/N² [1/pixel²]. ``open`` puts the map in an empty plane; ``quantimpy``
  reproduces ``quantimpy.minkowski.functionals`` 0.2.6 exactly (raw area, perimeter/2π, χ₄/π).

Inputs: one map (N, N) or a stack (n, N, N), float32 or float64, C- or Fortran-ordered; arrays
are read in place (float32 maps are promoted to float64 one at a time) and the GIL is released
while the work runs. A stack gives one row per map. Bad input raises ``ValueError`` (or
``TypeError`` for a non-array, ``FileNotFoundError`` for a missing file) with the one-line message
the command line prints.

Trained runs (``load_run``) need the package built with libtorch (``HAS_TORCH``).
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _astrodiff

__version__: str = _astrodiff.__version__
#: True when this build can load trained runs (built with ``--features torch``).
HAS_TORCH: bool = _astrodiff.HAS_TORCH

PathLike = Union[str, "os.PathLike[str]"]


class PowerSpectrum(NamedTuple):
    """``k`` [h/Mpc] (nbins,), ``pk`` [(field units)² (Mpc/h)²] (nbins,) or (n, nbins) for a
    stack, ``nmodes`` (nbins,): the number of independent modes per bin."""

    k: np.ndarray
    pk: np.ndarray
    nmodes: np.ndarray


class Histogram(NamedTuple):
    """``edges`` (nbins + 1,); ``counts``, ``pdf`` = counts/(n_total·width) and ``density``
    (``np.histogram(density=True)``), each (nbins,) or (n, nbins); ``n_below``/``n_above``:
    values outside the edges; ``n_total``: all values (per map for a stack)."""

    edges: np.ndarray
    counts: np.ndarray
    pdf: np.ndarray
    density: np.ndarray
    n_below: Any
    n_above: Any
    n_total: Any


class Minkowski(NamedTuple):
    """V0, V1, V2 at each threshold ((nthr,) or (n, nthr)), in the units of ``convention``;
    ``chi`` the raw Euler characteristic, ``length_pix`` the raw contour length [pixels],
    ``n_above`` the pixels above the threshold."""

    thresholds: np.ndarray
    convention: str
    v0: np.ndarray
    v1: np.ndarray
    v2: np.ndarray
    chi: np.ndarray
    length_pix: np.ndarray
    n_above: np.ndarray


class Simulation(NamedTuple):
    """``maps``: float32 (n_sims·3·slabs, N, N), CDM surface density in (M_sun/h)/(Mpc/h)²,
    3·slabs consecutive maps per simulation (CAMELS order); ``params``: (n_sims, 2) with the
    columns ``names`` = ("Omega_m", "sigma_8"), as ``read_params`` names them; ``seeds``: the seed of each simulation."""

    maps: np.ndarray
    params: np.ndarray
    names: tuple
    seeds: list


def _field(x: Any) -> Any:
    """numpy arrays pass as they are (no copy); lists and the like become arrays."""
    if isinstance(x, (str, os.PathLike)):
        return x
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def power_spectrum(field: Any, box_size: float, transform: str = "identity") -> PowerSpectrum:
    """The 2D power spectrum of one map or of each map of a stack (Pylians ``Pk_plane``
    convention); ``box_size`` is the side L in Mpc/h (25 for CAMELS). ``transform``
    ("identity", "log10", "overdensity" = ρ/ρ̄ − 1 per map) is applied first, as the CLI's
    ``--transform`` (its log10 is correctly rounded, so it can differ from ``np.log10`` in the
    last bit)."""
    return PowerSpectrum(*_astrodiff.power_spectrum(_field(field), float(box_size), transform))


def histogram(
    field: Any, edges: Optional[Sequence[float]] = None, bins: int = 40, transform: str = "identity"
) -> Histogram:
    """Pixel histogram on ``edges`` (strictly increasing), or on ``bins`` uniform bins over the
    data's range (of the whole stack), as ``astrodiff stats`` does by default; ``transform`` as
    in :func:`power_spectrum`."""
    e = None if edges is None else [float(v) for v in edges]
    d = _astrodiff.histogram(_field(field), e, int(bins), transform)
    return Histogram(**d)


def minkowski(
    field: Any,
    thresholds: Optional[Sequence[float]] = None,
    convention: str = "periodic",
    n_thresholds: int = 25,
    transform: str = "identity",
) -> Minkowski:
    """Minkowski functionals of the excursion sets {x > u} for each threshold u (strictly
    increasing); without ``thresholds``, ``n_thresholds`` uniform between the 1st and 99th
    percentiles of the pixels (the CLI's default). ``convention``: "periodic", "open" or
    "quantimpy"; ``transform`` as in :func:`power_spectrum` (thresholds in transformed units)."""
    t = None if thresholds is None else [float(u) for u in np.atleast_1d(thresholds)]
    return Minkowski(**_astrodiff.minkowski(_field(field), t, convention, int(n_thresholds), transform))


def compare(a: Any, b: Any, box_size: float, **options: Any) -> dict:
    """Set ``b`` against the reference set ``a`` (arrays or map files), exactly as
    ``astrodiff compare A B --box-size L`` does: the ensembles of both sets on shared edges and
    thresholds, the ratio of means and reduced χ² per statistic, and W1/KS between the pooled
    pixels. Returns the CLI's JSON as a dict (``json.dumps`` gives the same JSON).

    Options (the CLI's flags): ``transform`` ("identity", "log10", "overdensity"), ``edges``,
    ``bins``, ``thresholds``, ``n_thresholds``, ``mf_convention``, ``label_a``, ``label_b``,
    ``max_pooled_pixels``."""
    return json.loads(_astrodiff.compare_json(_field(a), _field(b), float(box_size), **options))


def evaluate(real: Any, generated: Any, box_size: float, **options: Any) -> dict:
    """Judges ``generated`` against the held-out ``real`` maps (arrays or map files) exactly as
    ``astrodiff evaluate`` does; returns what it writes as ``evaluation.json`` (``["summary"]`` is
    ``summary.json``: the verdict table). Give ``out=DIR`` to also write the figures and
    ``report.html`` there.

    Options (the CLI's flags): ``transform``, ``edges``, ``bins``, ``thresholds``,
    ``n_thresholds``, ``mf_convention``, ``maps_per_sim`` (15 for CAMELS stacks),
    ``train_maps``, ``baseline_splits``, ``baseline_seed``, ``null`` (judge a Gaussian null,
    default True), ``null_from``, ``null_fields``, ``null_seed``, ``label_real``,
    ``label_generated``, ``max_maps``, ``out``."""
    if "null_from" in options and options["null_from"] is not None:
        options["null_from"] = _field(options["null_from"])
    if "out" in options and options["out"] is not None:
        options["out"] = os.fspath(options["out"])
    return json.loads(_astrodiff.evaluate_json(_field(real), _field(generated), float(box_size), **options))


def load_maps(path: PathLike, max_maps: Optional[int] = None) -> np.ndarray:
    """The maps of a ``.npy`` (2D or 3D, memory-mapped while read), ``.npz`` (one array, or
    ``file.npz:member``) or FITS file as an (n, N, N) array: float64 files as float64, every other
    type as float32 (FITS BSCALE/BZERO applied, BLANK as NaN)."""
    return _astrodiff.load_maps(os.fspath(path), max_maps)


def read_params(path: PathLike) -> tuple:
    """A CAMELS parameter table (``params_LH_<suite>.txt``): (column names, (n_sims, n_cols))."""
    names, rows = _astrodiff.read_params(os.fspath(path))
    return list(names), rows


def simulate(n_sims: int, seed: int = 0, **options: Any) -> Simulation:
    """Runs the built-in 2LPT + particle-mesh simulator in memory: the same maps
    ``astrodiff simulate`` writes for the same settings and seed. ``set="LH"`` (default) is a
    Latin hypercube in (Ω_m ∈ [0.1, 0.5], σ_8 ∈ [0.6, 1.0]); ``"CV"`` puts every simulation at
    the fiducial Ω_m = 0.3, σ_8 = 0.8 with its own seed (cosmic variance); ``"1P"`` varies Ω_m
    over n_sims/2 evenly spaced values, then σ_8, the other fiducial, all with one seed.
    Options (the CLI's flags): ``particles`` (64), ``mesh`` (128), ``box_size`` (25 Mpc/h),
    ``map_res`` (256), ``steps`` (20), ``z_init`` (19), ``slabs`` (5), ``cloud`` (None:
    adaptive), ``name``, ``set``."""
    maps, params, seeds = _astrodiff.simulate(int(n_sims), int(seed), **options)
    return Simulation(maps, params, ("Omega_m", "sigma_8"), list(seeds))


def load_run(path: PathLike, ema: bool = True, device: Optional[str] = None, threads: Optional[int] = None):
    """A trained run folder (or checkpoint file) written by ``astrodiff train``. Its
    ``sample(n, sampler=, steps=, seed=, ...)`` returns (n, N, N) float32 fields in the physical
    units of the training data and ``denoise(y, sigma, samples=, seed=, ...)`` a dict of
    posterior ``samples``, ``mean`` and ``std`` (float32) with the plan, identical to
    ``astrodiff sample`` / ``astrodiff denoise`` for the same arguments and seed. Needs a build
    with libtorch (``HAS_TORCH``)."""
    if not HAS_TORCH:
        raise RuntimeError(
            "this astrodiff build has no libtorch: trained runs need the package built with "
            "--features torch (docs/python.md)"
        )
    return _astrodiff.load_run(os.fspath(path), ema, device, threads)


__all__ = [
    "HAS_TORCH",
    "Histogram",
    "Minkowski",
    "PowerSpectrum",
    "Simulation",
    "compare",
    "evaluate",
    "histogram",
    "load_maps",
    "load_run",
    "minkowski",
    "power_spectrum",
    "read_params",
    "simulate",
]
