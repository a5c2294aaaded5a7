"""Trained runs from Python give the arrays `astrodiff sample` and `astrodiff denoise` write (and
the posterior `astrodiff infer` writes), for the same checkpoint, arguments and seed; and the
package lives beside `import torch`."""

import json

import numpy as np
import pytest

import astrodiff
from conftest import GOLDEN

pytestmark = pytest.mark.skipif(not astrodiff.HAS_TORCH, reason="built without libtorch")
RUN = GOLDEN / "inputs" / "run"


@pytest.mark.parametrize("sampler, steps", [("ddim", 5), ("ddpm", 10)])
def test_sample_equals_the_cli(cli, tmp_path, sampler, steps):
    out = tmp_path / f"{sampler}.npy"
    cli("sample", "--checkpoint", RUN, "--n", "2", "--sampler", sampler, "--steps", str(steps),
        "--seed", "3", "--threads", "1", "--out", out)
    run = astrodiff.load_run(RUN, threads=1)
    got = run.sample(2, sampler=sampler, steps=steps, seed=3)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.load(out))
    # and the golden reference the CLI's own test holds
    np.testing.assert_array_equal(got, np.load(GOLDEN / "expected" / f"sample_{sampler}.npy"))


def test_denoise_equals_the_cli(cli, tmp_path):
    out = tmp_path / "den"
    cli("denoise", "--checkpoint", RUN, "--input", GOLDEN / "inputs" / "noisy.npy", "--sigma", "0.05",
        "--samples", "2", "--seed", "4", "--out", out)
    run = astrodiff.load_run(RUN)
    y = np.load(GOLDEN / "inputs" / "noisy.npy")
    d = run.denoise(y, 0.05, samples=2, seed=4)
    for key in ("samples", "mean", "std"):
        np.testing.assert_array_equal(d[key], np.load(out / f"{key}.npy"), err_msg=key)
    assert d["nfe"] > 0 and d["t_star"] >= 0


def test_bad_model_arguments_raise():
    run = astrodiff.load_run(RUN)
    with pytest.raises(ValueError, match="unknown sampler|sampler"):
        run.sample(1, sampler="euler")
    y = np.load(GOLDEN / "inputs" / "noisy.npy")
    with pytest.raises(ValueError, match="number of posterior samples must be >= 1"):
        run.denoise(y, 0.05, samples=0)
    with pytest.raises(ValueError, match="-1"):
        run.denoise(y, -1.0)
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        astrodiff.load_run(GOLDEN / "no_such_run")


def test_coexists_with_torch_in_one_process():
    torch = pytest.importorskip("torch")
    run = astrodiff.load_run(RUN, threads=1)
    a = run.sample(1, sampler="ddim", steps=5, seed=3)
    t = torch.ones(3) * 2  # torch works after astrodiff loaded libtorch
    assert float(t.sum()) == 6.0
    b = run.sample(1, sampler="ddim", steps=5, seed=3)
    np.testing.assert_array_equal(a, b)


def test_torch_first_then_astrodiff_in_a_fresh_process():
    """The other order: PyTorch loads libtorch first, then astrodiff links the same one."""
    import subprocess
    import sys

    pytest.importorskip("torch")
    code = (
        "import torch, astrodiff, numpy as np; "
        f"r = astrodiff.load_run({str(RUN)!r}, threads=1); "
        "x = r.sample(2, sampler='ddim', steps=5, seed=3); "
        f"ref = np.load({str(GOLDEN / 'expected' / 'sample_ddim.npy')!r}); "
        "assert (x == ref).all(), 'differs'; print(torch.__version__)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("2.11.0")


TINY = (GOLDEN.parent / "common" / "tiny.toml").read_text()  # the CLI tests' tiny network


def test_conditional_sample_equals_the_cli(cli, tmp_path):
    sim, prep, run = tmp_path / "sim", tmp_path / "prep", tmp_path / "run"
    cli("simulate", "--n-sims", "4", "--seed", "2", "--particles", "16", "--mesh", "32", "--map-res", "16",
        "--slabs", "1", "--steps", "4", "--out", sim)
    cli("data", "prepare", "--input", sim, "--resolution", "16", "--norm", "standard", "--split", "0-2,,3",
        "--out", prep)
    (tmp_path / "tiny.toml").write_text(TINY)
    cli("train", "--data", prep, "--config", tmp_path / "tiny.toml", "--out", run, "--steps", "2",
        "--threads", "1", "--condition", "Om,sigma8")
    out = tmp_path / "s.npy"
    cli("sample", "--checkpoint", run, "--n", "2", "--sampler", "ddim", "--steps", "3", "--seed", "4",
        "--threads", "1", "--params", "Om=0.3,sigma8=0.8", "--guidance", "1.5", "--out", out)
    r = astrodiff.load_run(run, threads=1)
    assert r.condition == ["Om", "sigma8"]
    got = r.sample(2, sampler="ddim", steps=3, seed=4, params=np.array([0.3, 0.8]), guidance=1.5)
    np.testing.assert_array_equal(got, np.load(out))
    with pytest.raises(ValueError, match=r"Om=0.7.*prior box"):
        r.sample(1, params=np.array([0.7, 0.8]))
    with pytest.raises(ValueError, match="conditioned on Om, sigma8"):
        r.sample(1)
    # Inference: the same grid posterior as `astrodiff infer`.
    post = tmp_path / "post.json"
    cli("infer", "--checkpoint", run, "--input", out, "--grid", "4", "--fields-per-estimate", "2",
        "--threads", "1", "--json", post)
    want = json.loads(post.read_text())
    got = r.infer(np.load(out), fields_per_estimate=2, grid=4)
    assert got["names"] == ["Om", "sigma8"]
    assert got["estimates"] == want["estimates"]
    with pytest.raises(ValueError, match="--grid 2"):
        r.infer(np.load(out), grid=2)
    # The slice sampler: the same chain as `astrodiff infer --mcmc`, and the samples file beside.
    cli("infer", "--checkpoint", run, "--input", out, "--grid", "4", "--mcmc", "3", "--burn-in", "1",
        "--threads", "1", "--json", post)
    want = json.loads(post.read_text())
    got = r.infer(np.load(out), grid=4, mcmc=3, burn_in=1)
    assert got["estimates"] == want["estimates"]
    assert len(got["estimates"][0]["mcmc"]["samples"]) == 3
    np.testing.assert_allclose(np.load(tmp_path / "post.samples.npy")[0],
                               np.array(got["estimates"][0]["mcmc"]["samples"]), rtol=1e-6)
