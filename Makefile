# Both targets source scripts/env.sh, which installs the pinned libtorch once (PyPI torch==2.11.0)
# and points the build at it. See README.
SHELL := /bin/bash
.PHONY: demo test build

# The demo's budget is what is left of 15 minutes after set-up (first-time libtorch install and
# build included), at most 10 minutes and at least 3; extra flags go in DEMO_ARGS.
demo:
	@start=$$(date +%s); . scripts/env.sh && cargo build --release -p astrodiff && \
	used=$$(( $$(date +%s) - start )) && \
	mins=$$(awk -v u=$$used 'BEGIN { m = (14.5 * 60 - u) / 60; if (m > 10) m = 10; if (m < 3) m = 3; printf "%.1f", m }') && \
	echo "make demo: set-up took $$used s; demo budget $$mins min of the 15-minute total" >&2 && \
	target/release/astrodiff demo --minutes $$mins $(DEMO_ARGS)

test:
	. scripts/env.sh && cargo test --workspace && scripts/test_python.sh

build:
	. scripts/env.sh && cargo build --release -p astrodiff
