//! Judging generated fields against real ones, callable from any program: no libtorch, no
//! terminal. Today it holds the verdict rule ([`verdict`]): a pure function from the numbers of
//! a comparison (`stats::ensemble::compare` of generated vs held-out, and of real-vs-real
//! splits) to the summary table and its pass/fail lines, as `astrodiff evaluate` and the demo
//! write it to `summary.json`. The rule and its calibration on real maps are documented in
//! docs/report.md ("The summary table and the verdict rule") and measured by
//! bench/run_verdict_check.sh.

pub mod verdict;
