#!/usr/bin/env bash
# The Python package's tests (pytest), part of the README's test command (`make test`).
# Builds the extension module with the workspace's test build (cargo's cache is shared with
# `cargo test`), with libtorch (the pinned one of scripts/env.sh), assembles the package under
# target/python/, and runs python/tests against it with the torch virtual environment's Python.
# Usage: scripts/test_python.sh [pytest args]   (source scripts/env.sh first, as `make test` does)
set -euo pipefail
cd "$(dirname "$0")/.."
# scripts/env.sh exports PYO3_PYTHON (the torch environment's Python) and
# PYO3_BUILD_EXTENSION_MODULE (no libpython linked: Python's symbols resolve at import).
py="${PYO3_PYTHON:?source scripts/env.sh first}"
# The same package selection and targets as `cargo test --workspace`, so cargo resolves the same
# features and reuses its build (a narrower `-p` build would resolve others and rebuild the
# workspace); this adds only the extension module and the CLI binary the tests compare against.
cargo build --profile test -q --workspace --lib --bins --tests --examples --features astrodiff-python/torch
pkg=target/python/astrodiff
rm -rf target/python && mkdir -p "$pkg"
cp python/astrodiff/*.py python/astrodiff/*.pyi python/astrodiff/py.typed "$pkg"/
# Same file as an installed wheel's astrodiff/_astrodiff*.so (a copy: the name decides the import).
ext=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
cp target/debug/lib_astrodiff.so "$pkg/_astrodiff$ext"
# pytest, and matplotlib for the plot of docs/python.md's walk-through (once per environment).
"$py" -c 'import pytest, matplotlib' 2>/dev/null ||
    "$py" -m pip install --quiet --progress-bar off "pytest==9.2.0" "matplotlib==3.11.2"
ASTRODIFF_BIN="$PWD/target/debug/astrodiff" PYTHONPATH="$PWD/target/python" \
    "$py" -m pytest -q -p no:cacheprovider python/tests "$@"
