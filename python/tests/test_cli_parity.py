"""The package gives the CLI's numbers: `compare`, `evaluate`, `stats`, `simulate` and the file
readers, run on the same inputs both ways (the golden inputs of the CLI's own tests)."""

import json

import numpy as np
import pytest

import astrodiff
from conftest import GOLDEN

INPUTS = GOLDEN / "inputs"


def without(d, *paths):
    """A copy of the JSON dict `d` with the entries at the dotted `paths` removed."""
    d = json.loads(json.dumps(d))
    for p in paths:
        *head, last = p.split(".")
        node = d
        for h in head:
            node = node[h]
        node.pop(last, None)
    return d


def test_compare_from_arrays_equals_the_cli_json(cli, tmp_path):
    out = tmp_path / "compare.json"
    cli("compare", INPUTS / "real.npy", INPUTS / "generated.npy", "--box-size", "25",
        "--transform", "log10", "--json", out)
    want = json.loads(out.read_text())
    real, gen = np.load(INPUTS / "real.npy"), np.load(INPUTS / "generated.npy")
    got = astrodiff.compare(real, gen, 25, transform="log10")
    assert without(got, "a.file", "b.file") == without(want, "a.file", "b.file")
    # from the files themselves, even the recorded file names agree
    got_files = astrodiff.compare(str(INPUTS / "real.npy"), INPUTS / "generated.npy", 25, transform="log10")
    assert got_files == want


def test_evaluate_equals_the_cli_evaluation_json(cli, tmp_path):
    args = dict(transform="log10", maps_per_sim=6, train_maps=36, baseline_splits=8,
                baseline_seed=3, null_seed=5)
    out = tmp_path / "eval"
    cli("evaluate", INPUTS / "real.npy", INPUTS / "generated.npy", "--box-size", "25", "--out", out,
        "--transform", "log10", "--maps-per-sim", "6", "--train-maps", "36", "--baseline-splits", "8",
        "--baseline-seed", "3", "--null-seed", "5")
    want = json.loads((out / "evaluation.json").read_text())
    got = astrodiff.evaluate(str(INPUTS / "real.npy"), str(INPUTS / "generated.npy"), 25, **args)
    assert got == want
    assert got["summary"] == json.loads((out / "summary.json").read_text())
    # arrays: the same numbers; only the recorded paths are absent
    arrays = astrodiff.evaluate(np.load(INPUTS / "real.npy"), np.load(INPUTS / "generated.npy"), 25,
                                out=tmp_path / "py", **args)
    assert arrays["real"]["path"] is None
    paths = ("real.path", "generated.path", "gaussian_null.fitted_on.path")
    assert without(arrays, *paths) == without(want, *paths)
    assert (tmp_path / "py" / "report.html").exists()


def test_stats_equal_the_cli_stats_json(cli, tmp_path):
    out = tmp_path / "stats.json"
    cli("stats", INPUTS / "real.npy", "--box-size", "25", "--transform", "log10", "--json", out,
        "--mf-convention", "quantimpy")
    want = json.loads(out.read_text())
    x = np.load(INPUTS / "real.npy")
    ps = astrodiff.power_spectrum(x, 25, transform="log10")
    h = astrodiff.histogram(x, transform="log10")
    m = astrodiff.minkowski(x, convention="quantimpy", transform="log10")
    for i, row in enumerate(want["maps"]):
        assert ps.k.tolist() == row["power_spectrum"]["k"]
        assert ps.pk[i].tolist() == row["power_spectrum"]["pk"]
        assert h.edges.tolist() == row["histogram"]["edges"]
        assert h.counts[i].tolist() == row["histogram"]["counts"]
        assert m.thresholds.tolist() == row["minkowski"]["thresholds"]
        for key in ("v0", "v1", "v2", "chi", "length_pix"):
            assert getattr(m, key)[i].tolist() == row["minkowski"][key], key


def test_simulate_gives_the_maps_and_parameters_of_the_cli(cli, tmp_path):
    opts = dict(particles=16, mesh=32, map_res=32, steps=4, slabs=2)
    cli("simulate", "--n-sims", "2", "--seed", "7", "--particles", "16", "--mesh", "32",
        "--map-res", "32", "--steps", "4", "--slabs", "2", "--out", tmp_path, "--name", "T")
    sim = astrodiff.simulate(2, seed=7, name="T", **opts)
    maps = astrodiff.load_maps(tmp_path / "Maps_Mcdm_T_LH_z=0.00.npy")
    assert maps.dtype == np.float32 and maps.shape == (12, 32, 32)
    np.testing.assert_array_equal(sim.maps, maps)
    names, rows = astrodiff.read_params(tmp_path / "params_LH_T.txt")
    assert names[:2] == list(sim.names) == ["Omega_m", "sigma_8"]
    np.testing.assert_array_equal(sim.params, rows[:, :2])
    with pytest.raises(ValueError, match="n_sims must be at least 1"):
        astrodiff.simulate(0, **opts)


def test_simulate_cv_and_1p_sets_match_the_cli(cli, tmp_path):
    opts = dict(particles=16, mesh=32, map_res=32, steps=4, slabs=1)
    cli("simulate", "--set", "1P", "--n-sims", "4", "--seed", "3", "--particles", "16", "--mesh",
        "32", "--map-res", "32", "--steps", "4", "--slabs", "1", "--out", tmp_path, "--name", "T")
    one_p = astrodiff.simulate(4, seed=3, set="1P", name="T", **opts)
    np.testing.assert_array_equal(one_p.maps, astrodiff.load_maps(tmp_path / "Maps_Mcdm_T_1P_z=0.00.npy"))
    _, rows = astrodiff.read_params(tmp_path / "params_1P_T.txt")
    np.testing.assert_array_equal(one_p.params, rows[:, :2])
    assert one_p.params.tolist() == [[0.1, 0.8], [0.5, 0.8], [0.3, 0.6], [0.3, 1.0]]
    assert len(set(one_p.seeds)) == 1
    cv = astrodiff.simulate(3, seed=3, set="CV", **opts)
    assert cv.params.tolist() == [[0.3, 0.8]] * 3 and len(set(cv.seeds)) == 3
    with pytest.raises(ValueError, match="unknown simulation set \"XY\""):
        astrodiff.simulate(2, set="XY", **opts)
    with pytest.raises(ValueError, match="n_sims = 3 for the 1P set"):
        astrodiff.simulate(3, set="1P", **opts)


def test_load_maps_keeps_float64_and_honours_max_maps(tmp_path):
    x = np.random.default_rng(1).normal(size=(3, 8, 8))
    np.save(tmp_path / "x.npy", x)
    got = astrodiff.load_maps(tmp_path / "x.npy", max_maps=2)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, x[:2])
    np.save(tmp_path / "one.npy", x[0].astype(np.float32))
    assert astrodiff.load_maps(tmp_path / "one.npy").shape == (1, 8, 8)


def test_compare_refuses_mismatched_sides_with_the_clis_message():
    a = np.zeros((2, 8, 8)) + np.arange(64.0).reshape(8, 8)
    b = np.zeros((2, 16, 16))
    with pytest.raises(ValueError, match="a has 8x8 maps but b has 16x16"):
        astrodiff.compare(a, b, 25)
    with pytest.raises(ValueError, match="unknown transform 'log'"):
        astrodiff.compare(a, a, 25, transform="log")


def test_evaluate_refuses_zero_maps_per_sim_and_an_empty_null():
    a = np.random.default_rng(0).standard_normal((4, 8, 8))
    with pytest.raises(ValueError, match="maps per simulation must be at least 1"):
        astrodiff.evaluate(a, a, 25, maps_per_sim=0)
    with pytest.raises(ValueError, match="Gaussian null needs at least one field"):
        astrodiff.evaluate(a, a, 25, null_fields=0)
