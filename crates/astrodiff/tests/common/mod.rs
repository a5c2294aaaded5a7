//! Helpers shared by the CLI tests: run the built binary, insist on success or on exactly one
//! error line, read a run's metrics log.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_astrodiff");

/// The tiny network config the CLI tests (and python/tests) train: `tiny.toml` beside this file.
pub const TINY: &str = include_str!("tiny.toml");

pub fn astrodiff(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("running astrodiff")
}

pub fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The error line of a failed run (it must be exactly one line starting with "error:").
pub fn error_line(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure, got success");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{err}");
    lines[0].to_string()
}

pub fn p(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

/// The `step` of every line of `RUN/metrics.jsonl`, in order.
pub fn logged_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect()
}
