// What the reader fuzz targets (npy, npz, fits, params) do with one input. `include!`d by the targets
// in fuzz_targets/ and by the corpus-replay test crates/fields/tests/fuzz_corpus.rs, so CI replays every
// committed seed and crash through the same code. Each function must return (Ok or Err inside);
// a panic, hang or runaway allocation is a bug.

/// Writes `bytes` to a fresh file named `name` (the readers take paths, and some decide by
/// extension) and returns its folder, which deletes it when dropped.
#[allow(dead_code)]
fn as_file(bytes: &[u8], name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    };
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

/// A map file (.npy, .npz or FITS: the reader decides by magic bytes): open it, then decode
/// what the commands touch (the first and last maps, the finiteness pass).
#[allow(dead_code)]
fn fuzz_map_file(bytes: &[u8], name: &str) {
    let (_dir, p) = as_file(bytes, name);
    if let Ok(s) = fields::io::MapStack::open(&p) {
        let n = s.len();
        for i in [0, n / 2, n - 1] {
            let m = s.map_f32(i);
            assert_eq!(m.dim(), (s.side(), s.side()));
        }
        let _ = s.check_finite();
        let _ = s.maps_f32(0..n.min(4));
    }
}

/// A CAMELS parameter table.
#[allow(dead_code)]
fn fuzz_params(bytes: &[u8]) {
    let (_dir, p) = as_file(bytes, "params_LH_Fuzz.txt");
    if let Ok(t) = fields::camels::ParamsTable::read(&p) {
        assert_eq!(t.names.len(), t.rows.ncols());
        assert!(t.rows.iter().all(|v| v.is_finite()));
    }
}

