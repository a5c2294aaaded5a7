"""The statistics against the oracle fixtures (Pylians-convention float64 reference P(k), numpy
histograms, reference and quantimpy Minkowski functionals), and the input rules."""

import json

import numpy as np
import pytest

import astrodiff

CASES = [
    "grf_pl_m2_64", "grf_smooth_128", "lognormal_128", "plane_wave_64", "nyquist_wave_64",
    "constant_64", "disk_128", "annulus_128", "two_disks_128", "wrapped_disk_64",
    "connectivity_16", "gaussian_blob_128",
]


def load(fixtures, case):
    ref = json.loads((fixtures / f"{case}.json").read_text())
    return np.load(fixtures / ref["field_file"]), ref


def transformed(field, how):
    return np.log10(field.astype(np.float64)) if how == "log10" else field


def close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", CASES)
def test_power_spectrum_equals_the_float64_reference(fixtures, case):
    field, ref = load(fixtures, case)
    want = ref["power_spectrum"]["reference_f64"]
    ps = astrodiff.power_spectrum(field, ref["box_size_mpc_h"])
    close(ps.k, want["k"])
    close(ps.pk, want["pk"], atol=1e-12 * max(1.0, max(abs(v) for v in want["pk"])))
    close(ps.nmodes, want["nmodes"], rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_histogram_equals_numpy(fixtures, case):
    field, ref = load(fixtures, case)
    h = ref["histogram"]
    got = astrodiff.histogram(transformed(field, h["transform"]), edges=h["edges"])
    np.testing.assert_array_equal(got.counts, h["counts"])
    assert (got.n_below, got.n_above, got.n_total) == (
        h["n_below_first_edge"], h["n_above_last_edge"], h["n_total"])
    close(got.pdf, h["pdf_over_total"])
    close(got.density, [np.nan if v is None else v for v in h["numpy_density"]])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("convention", ["periodic", "open"])
def test_minkowski_equals_the_reference_counts(fixtures, case, convention):
    field, ref = load(fixtures, case)
    m = ref["minkowski"]
    x = transformed(field, m["transform"])
    order = np.argsort(m["thresholds"])  # the API takes increasing thresholds (a curve's x axis)
    got = astrodiff.minkowski(x, np.asarray(m["thresholds"])[order], convention=convention)
    rows = [m["reference"][i] for i in order]
    close(got.chi, [r[convention]["chi8"] for r in rows], rtol=0, atol=0)
    close(got.length_pix, [r[convention]["ms_length_pix"] for r in rows], rtol=1e-9)
    if convention == "periodic":
        close(got.v0, [r["V0"] for r in rows])
        close(got.v1, [r["V1_pix"] for r in rows], rtol=1e-9)
        close(got.v2, [r["V2_pix"] for r in rows])


@pytest.mark.parametrize("case", CASES)
def test_minkowski_reproduces_quantimpy(fixtures, case):
    field, ref = load(fixtures, case)
    m = ref["minkowski"]
    order = np.argsort(m["thresholds"])
    got = astrodiff.minkowski(transformed(field, m["transform"]), np.asarray(m["thresholds"])[order],
                              convention="quantimpy")
    q = [m["quantimpy"][i] for i in order]
    close(got.v0, [r["area"] for r in q])
    close(got.v1, [r["length"] for r in q], rtol=1e-9)
    close(got.v2, [r["euler"] for r in q], rtol=1e-9, atol=1e-12)


def test_stacks_orders_and_dtypes_give_the_same_rows(fixtures):
    field, ref = load(fixtures, "grf_pl_m2_64")
    one = astrodiff.power_spectrum(field, 25.0)
    stack32 = np.stack([field, field[::-1].copy(), field.T.copy()]).astype(np.float32)
    for stack in (stack32, stack32.astype(np.float64), np.asfortranarray(stack32)):
        ps = astrodiff.power_spectrum(stack, 25.0)
        assert ps.pk.shape == (3, len(one.k))
        np.testing.assert_array_equal(ps.k, one.k)
        # float32 input is promoted exactly and read in any order: row 0 is the single map, bit for bit
        np.testing.assert_array_equal(ps.pk[0], one.pk)
    # a negatively strided view is read in place too; a flip leaves |F|^2 (to rounding)
    flipped = astrodiff.power_spectrum(stack32[:, ::-1, :], 25.0)
    np.testing.assert_allclose(flipped.pk[0], one.pk, rtol=1e-12)
    # a Fortran-ordered map is the same map
    np.testing.assert_array_equal(astrodiff.power_spectrum(np.asfortranarray(field), 25.0).pk, one.pk)
    t = [-1.0, 0.0, 1.0]
    single = astrodiff.minkowski(field, t)
    many = astrodiff.minkowski(stack32, t)
    assert many.v2.shape == (3, 3)
    np.testing.assert_array_equal(many.v2[0], single.v2)
    hs = astrodiff.histogram(stack32, edges=[-4, 0, 4])
    assert hs.counts.shape == (3, 2) and list(hs.n_total) == [4096] * 3


def test_default_histogram_and_thresholds_are_the_clis_rule():
    x = np.linspace(-1.0, 3.0, 64 * 64).reshape(64, 64)
    h = astrodiff.histogram(x)
    assert len(h.edges) == 41 and h.edges[0] == -1.0 and h.edges[-1] == 3.0
    m = astrodiff.minkowski(x)
    lo, hi = np.percentile(x, [1, 99])
    np.testing.assert_allclose(m.thresholds, np.linspace(lo, hi, 25), rtol=1e-12)


@pytest.mark.parametrize(
    "field, message",
    [
        (np.full((8, 8), np.nan), "non-finite value NaN at pixel [0, 0]"),
        (np.zeros((8, 8), dtype=np.complex128), "complex128 is not supported"),
        (np.zeros((8, 6)), "6"),
        (np.zeros(8), "1 dimension(s)"),
        (np.zeros((2, 2, 4, 4)), "4 dimension(s)"),
        (np.zeros((8, 8), dtype=np.int64), "convert with np.asarray"),
    ],
)
def test_bad_fields_raise_value_error_with_the_message(field, message):
    for call in (lambda: astrodiff.power_spectrum(field, 25.0),
                 lambda: astrodiff.minkowski(field, [0.0]),
                 lambda: astrodiff.histogram(field, edges=[0, 1])):
        with pytest.raises(ValueError, match=None) as e:
            call()
        assert message in str(e.value), str(e.value)


def test_bad_parameters_raise_value_error():
    x = np.random.default_rng(0).normal(size=(16, 16))
    with pytest.raises(ValueError, match=r"thresholds\[2\] = 0.5"):
        astrodiff.minkowski(x, [0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"edges\[1\] = -1"):
        astrodiff.histogram(x, edges=[1.0, -1.0])
    with pytest.raises(ValueError, match="-3"):
        astrodiff.power_spectrum(x, -3.0)
    with pytest.raises(ValueError, match="unknown MF convention 'torus'"):
        astrodiff.minkowski(x, [0.0], convention="torus")
    with pytest.raises(ValueError, match="n_thresholds"):
        astrodiff.minkowski(x, n_thresholds=1)
    with pytest.raises(ValueError, match=r"map 1: non-finite"):
        astrodiff.power_spectrum(np.stack([x, x * np.nan]), 25.0)
    with pytest.raises(TypeError, match="expected a numpy array"):
        astrodiff._astrodiff.power_spectrum([[1.0]], 25.0)
    with pytest.raises(FileNotFoundError, match="no_such.npy: no such file"):
        astrodiff.load_maps("no_such.npy")
