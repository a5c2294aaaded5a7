# Both targets source scripts/env.sh, which installs the pinned libtorch once (PyPI torch==2.11.0)
# and points the build at it. See README.
SHELL := /bin/bash
.PHONY: demo test build

demo:
	. scripts/env.sh && cargo run --release -p astrodiff -- demo

test:
	. scripts/env.sh && cargo test --workspace

build:
	. scripts/env.sh && cargo build --release -p astrodiff
