//! Replays the fuzz corpus committed in fuzz/seeds/ and fuzz/regressions/ (checkpoints and
//! TOML configs, and every crash the fuzzers found) through the fuzz targets' own harness:
//! each must end in Ok or Err, never panic. The fuzzing itself runs outside CI
//! (docs/reliability.md).

include!("../../../fuzz/harness_diffusion.rs");
include!("../../../fuzz/corpus.rs");

#[test]
fn checkpoint_and_config_corpus_never_panics() {
    for (target, f) in [
        ("checkpoint", fuzz_checkpoint as fn(&[u8])),
        ("config", fuzz_config as fn(&[u8])),
    ] {
        let files = corpus_files(target);
        assert!(files.len() >= 5, "{target}: {} files", files.len());
        for p in files {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                std::panic::catch_unwind(|| f(&bytes)).is_ok(),
                "{} panicked",
                p.display()
            );
        }
    }
}
