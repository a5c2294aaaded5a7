// The committed corpus of one fuzz target: fuzz/seeds/<target>/ and fuzz/regressions/<target>/.
// `include!`d by the corpus-replay tests.

#[allow(dead_code)]
fn corpus_files(target: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut v = Vec::new();
    for dir in ["seeds", "regressions"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) {
            v.extend(rd.map(|e| e.unwrap().path()));
        }
    }
    v.sort();
    v
}
