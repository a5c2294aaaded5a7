# Source this file (`. scripts/env.sh`) before cargo: it makes sure the pinned libtorch
# (PyTorch 2.11.0 from PyPI, the version tch 0.24 binds) is present and tells the build where it is.
# Idempotent: the first run installs the wheel into a virtual environment (a few minutes), later runs
# only check it. Point ASTRODIFF_TORCH_VENV at an existing environment that has torch==2.11.0 to reuse it.
ASTRODIFF_TORCH_VENV="${ASTRODIFF_TORCH_VENV:-$HOME/.cache/astrodiff/torch-2.11.0}"
_astrodiff_py="$ASTRODIFF_TORCH_VENV/bin/python"
if ! "$_astrodiff_py" -c 'import torch, sys; sys.exit(0 if torch.__version__.split("+")[0] == "2.11.0" else 1)' 2>/dev/null; then
    echo "astrodiff: installing torch==2.11.0 into $ASTRODIFF_TORCH_VENV (once; a few minutes)" >&2
    python3 -m venv "$ASTRODIFF_TORCH_VENV" || return 1 2>/dev/null || exit 1
    "$_astrodiff_py" -m pip install --quiet --progress-bar off torch==2.11.0 numpy || return 1 2>/dev/null || exit 1
fi
export LIBTORCH_USE_PYTORCH=1
# torch-sys asks `python` where torch lives; put the venv first.
export PATH="$ASTRODIFF_TORCH_VENV/bin:$PATH"
# build.rs of the torch-using crates embeds this as an rpath, so binaries run without LD_LIBRARY_PATH.
ASTRODIFF_TORCH_LIB="$("$_astrodiff_py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export ASTRODIFF_TORCH_LIB
# The Python package (python/, PyO3) builds against this environment's Python, as an extension
# module (no libpython linked); one setting for `cargo test` and scripts/test_python.sh, so they
# share one build of pyo3.
export PYO3_PYTHON="$_astrodiff_py" PYO3_BUILD_EXTENSION_MODULE=1
unset _astrodiff_py
