//! Replays the fuzz corpus committed in fuzz/seeds/ and fuzz/regressions/ (malformed and
//! well-formed map files and parameter tables, and every crash the fuzzers found) through the
//! fuzz targets' own harness: each must end in Ok or Err, never panic. The fuzzing itself runs
//! outside CI (docs/reliability.md).

include!("../../../fuzz/harness_fields.rs");
include!("../../../fuzz/corpus.rs");

#[test]
fn map_file_corpus_never_panics() {
    let mut n = 0;
    for (target, name) in [
        ("npy", "maps.npy"),
        ("npz", "maps.npz"),
        ("fits", "maps.fits"),
    ] {
        for p in corpus_files(target) {
            let bytes = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| fuzz_map_file(&bytes, name));
            assert!(r.is_ok(), "{} panicked", p.display());
            n += 1;
        }
    }
    assert!(n >= 30, "only {n} corpus files found");
}

#[test]
fn params_corpus_never_panics() {
    let files = corpus_files("params");
    assert!(!files.is_empty());
    for p in files {
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            std::panic::catch_unwind(|| fuzz_params(&bytes)).is_ok(),
            "{} panicked",
            p.display()
        );
    }
}
