//! The one progress bar of the CLI: on stderr, drawn only when stderr is a terminal (indicatif
//! hides it otherwise, so Slurm logs and pipes stay clean).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `n` items of `unit` (e.g. "maps"), labelled `msg`.
pub(crate) fn bar(n: usize, unit: &str, msg: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}
