"""Shared paths for the package's tests: the oracle fixtures (../shared/fixtures/metrics beside the
repository), the golden inputs of the CLI's tests, and the CLI binary to compare against."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "metrics"
GOLDEN = REPO / "crates" / "astrodiff" / "tests" / "golden"


def cli_binary() -> pathlib.Path:
    """The `astrodiff` binary (ASTRODIFF_BIN, else the test build's target/debug/astrodiff)."""
    return pathlib.Path(os.environ.get("ASTRODIFF_BIN", REPO / "target" / "debug" / "astrodiff"))


@pytest.fixture(scope="session")
def fixtures() -> pathlib.Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"oracle fixtures not found at {FIXTURES} (clone the repository beside ../shared)")
    return FIXTURES


@pytest.fixture(scope="session")
def cli():
    exe = cli_binary()
    if not exe.exists():
        pytest.fail(f"{exe}: no astrodiff binary (cargo build -p astrodiff, or set ASTRODIFF_BIN)")

    def run(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, f"astrodiff {' '.join(map(str, args))} failed:\n{r.stderr}"
        return r

    return run
