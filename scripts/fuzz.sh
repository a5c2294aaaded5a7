#!/usr/bin/env bash
# Fuzz astrodiff's readers with cargo-fuzz (libFuzzer), outside CI:
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default: 60 s each, every target)
# Targets: npy npz fits params checkpoint config (fuzz/fuzz_targets/). Each run starts from
# fuzz/seeds/<target> (committed) plus fuzz/corpus/<target> (grown here, not committed). A crash
# lands in fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/ so CI replays it
# (crates/*/tests/fuzz_corpus.rs), then fix the reader. One malloc over 1 GiB counts as a crash:
# no reader may allocate more than its file justifies. The stable toolchain runs cargo-fuzz with
# RUSTC_BOOTSTRAP=1 (it passes -Z flags); the checkpoint and config targets link libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
secs="${1:-60}"
shift || true
targets="${*:-npy npz fits params checkpoint config}"
export RUSTC_BOOTSTRAP=1
# The checkpoint and config targets link libtorch; their binaries carry no rpath to it.
export LD_LIBRARY_PATH="$ASTRODIFF_TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t: ${secs} s" >&2
    (cd fuzz && cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
        -print_final_stats=1) 2>&1 | tee "fuzz/corpus/$t.log" | grep -E "^(stat::|#[0-9]+ +DONE|==|SUMMARY|artifact)" || true
done
