use super::*;
use ndarray::{s, Array, Array3};
use std::io::Seek;

fn ramp(n: usize, side: usize) -> Array3<f32> {
    Array::from_shape_fn((n, side, side), |(m, i, j)| {
        (m * 10_000 + i * 100 + j) as f32 * 0.5 - 7.25
    })
}

/// Raw .npy bytes with an arbitrary header dict (for bad-input cases).
fn raw_npy(dict: &str, version: u8, data: &[u8]) -> Vec<u8> {
    let mut d = dict.to_string();
    let prefix = if version == 1 { 10 } else { 12 };
    while (prefix + d.len() + 1) & 63 != 0 {
        d.push(' ');
    }
    d.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend_from_slice(&(d.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(d.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(d.as_bytes());
    out.extend_from_slice(data);
    out
}

fn le_f32(a: &[f32]) -> Vec<u8> {
    a.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn err_of(path: &Path) -> FieldsError {
    MapStack::open(path).expect_err("should fail")
}

#[test]
fn npy_roundtrip_f32_and_f64_with_ndarray_npy_as_oracle() {
    let d = tmp();
    let a = ramp(3, 8);
    // Ours -> ndarray-npy.
    let p = d.path().join("a.npy");
    write_npy_f32(&p, a.view()).unwrap();
    let back: Array3<f32> = ndarray_npy::read_npy(&p).unwrap();
    assert_eq!(back, a);
    // ndarray-npy (f64) -> ours.
    let p64 = d.path().join("b.npy");
    let a64 = a.mapv(|v| v as f64 / 3.0);
    ndarray_npy::write_npy(&p64, &a64).unwrap();
    let s = MapStack::open(&p64).unwrap();
    assert_eq!(s.shape(), (3, 8, 8));
    assert_eq!(s.map(2), a64.slice(s![2, .., ..]));
    assert_eq!(s.map_f32(1), a64.slice(s![1, .., ..]).mapv(|v| v as f32));
    // Ours f64 writer -> ours.
    let p2 = d.path().join("c.npy");
    write_npy_f64(&p2, a64.view()).unwrap();
    let s2 = MapStack::open(&p2).unwrap();
    for m in 0..3 {
        assert_eq!(s2.map(m), a64.slice(s![m, .., ..]));
    }
    assert_eq!(s2.source_path(), p2.as_path());
}

#[test]
fn npy_2d_map_is_a_stack_of_one_and_versions_2_3_parse() {
    let d = tmp();
    let a = ramp(1, 5);
    let p = d.path().join("m.npy");
    write_npy_f32(&p, a.slice(s![0, .., ..])).unwrap();
    let s = MapStack::open(&p).unwrap();
    assert_eq!(s.shape(), (1, 5, 5));
    assert_eq!(s.to_array3_f32(), a);
    for v in [2u8, 3] {
        let p = d.path().join(format!("v{v}.npy"));
        let bytes = raw_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 5, 5), }",
            v,
            &le_f32(a.as_slice().unwrap()),
        );
        std::fs::write(&p, bytes).unwrap();
        assert_eq!(MapStack::open(&p).unwrap().to_array3_f32(), a);
    }
    // (n, 1, N, N): singleton channel axis accepted.
    let p = d.path().join("c.npy");
    let bytes = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 5, 5), }",
        1,
        &le_f32(a.as_slice().unwrap()),
    );
    std::fs::write(&p, bytes).unwrap();
    assert_eq!(MapStack::open(&p).unwrap().shape(), (1, 5, 5));
}

#[test]
fn writer_handles_non_standard_layout_views() {
    let d = tmp();
    let a = ramp(2, 6);
    let t = a.view().permuted_axes([0, 2, 1]); // transposed maps
    let p = d.path().join("t.npy");
    write_npy_f32(&p, t).unwrap();
    let s = MapStack::open(&p).unwrap();
    assert_eq!(s.map_f32(1), a.slice(s![1, .., ..]).t());
}

#[test]
fn mmap_reads_maps_of_a_stack_far_larger_than_memory() {
    // A sparse 26 GB file (100 000 × 256 × 256 float32; the machine has 24 GiB):
    // opening and reading a few maps only works if the file is memory-mapped.
    let d = tmp();
    let p = d.path().join("Maps_Mcdm_IllustrisTNG_LH_z=0.00.npy");
    let (n, side) = (100_000usize, 256usize);
    let header = npy_header("<f4", &[n, side, side]);
    let mut f = File::create(&p).unwrap();
    f.write_all(&header).unwrap();
    let total = header.len() as u64 + (n * side * side * 4) as u64;
    f.set_len(total).unwrap();
    let per = (side * side * 4) as u64;
    let want = [0usize, 12_345, n - 1];
    for &m in &want {
        let map: Vec<f32> = (0..side * side).map(|k| (m + k) as f32).collect();
        f.seek(std::io::SeekFrom::Start(
            header.len() as u64 + m as u64 * per,
        ))
        .unwrap();
        f.write_all(&le_f32(&map)).unwrap();
    }
    drop(f);
    let s = MapStack::open(&p).unwrap();
    assert_eq!(s.shape(), (n, side, side));
    for &m in &want {
        let map = s.map_f32(m);
        assert_eq!(map[[0, 0]], m as f32);
        assert_eq!(map[[255, 255]], (m + side * side - 1) as f32);
    }
    // An untouched (sparse) map reads as zeros.
    assert!(s.map(500).iter().all(|&v| v == 0.0));
}

#[test]
fn npz_member_by_name_only_member_and_compressed() {
    let d = tmp();
    let a = ramp(2, 4);
    let b = ramp(3, 4).mapv(|v| v * 2.0);
    let npy_a = {
        let mut v = npy_header("<f4", &[2, 4, 4]);
        v.extend(le_f32(a.as_slice().unwrap()));
        v
    };
    let npy_b = {
        let mut v = npy_header("<f4", &[3, 4, 4]);
        v.extend(le_f32(b.as_slice().unwrap()));
        v
    };
    let p = d.path().join("two.npz");
    {
        let mut z = zip::ZipWriter::new(File::create(&p).unwrap());
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("density.npy", stored).unwrap();
        z.write_all(&npy_a).unwrap();
        z.start_file("temperature.npy", deflated).unwrap();
        z.write_all(&npy_b).unwrap();
        z.finish().unwrap();
    }
    let e = err_of(&p).to_string();
    assert!(
        e.contains("two.npz") && e.contains("density") && e.contains("temperature"),
        "{e}"
    );
    let s = MapStack::open_npz(&p, Some("temperature")).unwrap();
    assert_eq!(s.to_array3_f32(), b);
    let s = MapStack::open(format!("{}:density", p.display())).unwrap();
    assert_eq!(s.to_array3_f32(), a);
    assert!(s
        .source_path()
        .to_string_lossy()
        .ends_with("two.npz:density"));
    let e = MapStack::open_npz(&p, Some("pressure"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no member 'pressure'"), "{e}");

    let p1 = d.path().join("one.npz");
    {
        let mut z = zip::ZipWriter::new(File::create(&p1).unwrap());
        z.start_file("arr_0.npy", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&npy_b).unwrap();
        z.finish().unwrap();
    }
    assert_eq!(MapStack::open(&p1).unwrap().to_array3_f32(), b);
}

#[test]
fn fits_roundtrip_cube_and_image() {
    let d = tmp();
    let a = ramp(3, 7);
    let p = d.path().join("cube.fits");
    write_fits_f32(&p, a.view()).unwrap();
    let len = std::fs::metadata(&p).unwrap().len() as usize;
    assert_eq!(len % FITS_BLOCK, 0);
    let s = MapStack::open(&p).unwrap();
    assert_eq!(s.shape(), (3, 7, 7));
    assert_eq!(s.to_array3_f32(), a);
    let p2 = d.path().join("img.fits");
    write_fits_f32(&p2, a.slice(s![1, .., ..])).unwrap();
    let s2 = MapStack::open(&p2).unwrap();
    assert_eq!(s2.shape(), (1, 7, 7));
    assert_eq!(s2.map_f32(0), a.slice(s![1, .., ..]));
}

fn card(k: &str, v: &str) -> String {
    format!("{:<80}", format!("{k:<8}= {v:>20}"))
}

fn fits_bytes(cards: &[String], data: &[u8]) -> Vec<u8> {
    let mut h = cards.concat();
    h.push_str(&format!("{:<80}", "END"));
    let mut out = h.into_bytes();
    out.resize(out.len().div_ceil(FITS_BLOCK) * FITS_BLOCK, b' ');
    out.extend_from_slice(data);
    out
}

#[test]
fn fits_int16_with_bscale_bzero_blank_and_f64_and_image_extension() {
    let d = tmp();
    // 2 maps of 3x3, BITPIX 16, value = 100 + 0.5 * raw, BLANK = -32768 -> NaN.
    let raw: Vec<i16> = (0..18).map(|k| k as i16 - 9).collect();
    let mut raw_blank = raw.clone();
    raw_blank[4] = -32768;
    let data: Vec<u8> = raw_blank.iter().flat_map(|v| v.to_be_bytes()).collect();
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "16"),
        card("NAXIS", "3"),
        card("NAXIS1", "3"),
        card("NAXIS2", "3"),
        card("NAXIS3", "2"),
        card("BSCALE", "5.0D-1"),
        card("BZERO", "100."),
        card("BLANK", "-32768"),
    ];
    let p = d.path().join("i16.fits");
    std::fs::write(&p, fits_bytes(&cards, &data)).unwrap();
    let s = MapStack::open(&p).unwrap();
    assert_eq!(s.shape(), (2, 3, 3));
    let m1 = s.map(1);
    // map 1, row 2, col 0 -> flat index 9 + 6 = 15 -> raw 6.
    assert_eq!(m1[[2, 0]], 100.0 + 0.5 * 6.0);
    assert!(s.map(0)[[1, 1]].is_nan());
    match s.check_finite().unwrap_err() {
        FieldsError::NonFinite { map, i, j, .. } => assert_eq!((map, i, j), (0, 1, 1)),
        e => panic!("{e}"),
    }

    // Empty primary HDU + IMAGE extension holding a BITPIX -64 map.
    let vals: Vec<f64> = (0..16).map(|k| k as f64 * 0.25).collect();
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    let mut bytes = fits_bytes(
        &[
            card("SIMPLE", "T"),
            card("BITPIX", "8"),
            card("NAXIS", "0"),
            card("EXTEND", "T"),
        ],
        &[],
    );
    bytes.extend(fits_bytes(
        &[
            card("XTENSION", "'IMAGE   '"),
            card("BITPIX", "-64"),
            card("NAXIS", "2"),
            card("NAXIS1", "4"),
            card("NAXIS2", "4"),
            card("PCOUNT", "0"),
            card("GCOUNT", "1"),
        ],
        &data,
    ));
    let p = d.path().join("ext.fits");
    std::fs::write(&p, bytes).unwrap();
    let s = MapStack::open(&p).unwrap();
    assert_eq!(s.shape(), (1, 4, 4));
    assert_eq!(s.map(0)[[3, 1]], 13.0 * 0.25);
}

#[test]
fn fits_bad_inputs() {
    let d = tmp();
    // Truncated data.
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "-32"),
        card("NAXIS", "2"),
        card("NAXIS1", "8"),
        card("NAXIS2", "8"),
    ];
    let p = d.path().join("short.fits");
    std::fs::write(&p, fits_bytes(&cards, &[0u8; 100])).unwrap();
    assert!(matches!(
        err_of(&p),
        FieldsError::Truncated {
            expected: 256,
            actual: 100,
            ..
        }
    ));
    // Non-square.
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "-32"),
        card("NAXIS", "2"),
        card("NAXIS1", "8"),
        card("NAXIS2", "4"),
    ];
    let p = d.path().join("rect.fits");
    std::fs::write(&p, fits_bytes(&cards, &[0u8; 128])).unwrap();
    match err_of(&p) {
        FieldsError::NotSquare {
            rows: 4, cols: 8, ..
        } => {}
        e => panic!("{e}"),
    }
    // 1D.
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "-32"),
        card("NAXIS", "1"),
        card("NAXIS1", "8"),
    ];
    let p = d.path().join("line.fits");
    std::fs::write(&p, fits_bytes(&cards, &[0u8; 32])).unwrap();
    assert!(matches!(err_of(&p), FieldsError::Shape { .. }));
    // Bad BITPIX.
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "-16"),
        card("NAXIS", "2"),
        card("NAXIS1", "2"),
        card("NAXIS2", "2"),
    ];
    let p = d.path().join("bitpix.fits");
    std::fs::write(&p, fits_bytes(&cards, &[0u8; 8])).unwrap();
    assert!(matches!(err_of(&p), FieldsError::Dtype { .. }));
    // Header with no END.
    let p = d.path().join("noend.fits");
    std::fs::write(&p, card("SIMPLE", "T").repeat(10)).unwrap();
    assert!(matches!(err_of(&p), FieldsError::Truncated { .. }));
}

fn write_raw(dir: &Path, name: &str, dict: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, raw_npy(dict, 1, data)).unwrap();
    p
}

#[test]
fn npy_bad_inputs_give_one_line_errors_naming_the_file() {
    let d = tmp();
    let dir = d.path();
    let data = vec![0u8; 4 * 4 * 8];
    type Case = (&'static str, &'static str, fn(&FieldsError) -> bool);
    let cases: Vec<Case> = vec![
        (
            "complex.npy",
            "{'descr': '<c8', 'fortran_order': False, 'shape': (4, 4), }",
            |e| matches!(e, FieldsError::Dtype { .. }) && e.to_string().contains("complex"),
        ),
        (
            "int.npy",
            "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 4), }",
            |e| matches!(e, FieldsError::Dtype { .. }) && e.to_string().contains("integer"),
        ),
        (
            "big.npy",
            "{'descr': '>f4', 'fortran_order': False, 'shape': (4, 4), }",
            |e| matches!(e, FieldsError::Dtype { .. }) && e.to_string().contains("big-endian"),
        ),
        (
            "rec.npy",
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }",
            |e| matches!(e, FieldsError::Dtype { .. }),
        ),
        (
            "fortran.npy",
            "{'descr': '<f4', 'fortran_order': True, 'shape': (4, 4), }",
            |e| matches!(e, FieldsError::FortranOrder { .. }),
        ),
        (
            "short.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4, 5), }",
            |e| {
                // rows 4 != cols 5 is found before size; use a square one below for truncation
                matches!(
                    e,
                    FieldsError::NotSquare {
                        rows: 4,
                        cols: 5,
                        ..
                    }
                )
            },
        ),
        (
            "trunc.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4, 4), }",
            |e| {
                matches!(
                    e,
                    FieldsError::Truncated {
                        expected: 384,
                        actual: 128,
                        ..
                    }
                )
            },
        ),
        (
            "line.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }",
            |e| matches!(e, FieldsError::Shape { .. }) && e.to_string().contains("1-dimensional"),
        ),
        (
            "four.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2, 2), }",
            |e| matches!(e, FieldsError::Shape { .. }) && e.to_string().contains("4-dimensional"),
        ),
        (
            "empty.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4, 4), }",
            |e| matches!(e, FieldsError::Empty { .. }),
        ),
        (
            "scalar.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            |e| matches!(e, FieldsError::Shape { .. }),
        ),
    ];
    for (name, dict, ok) in cases {
        let p = write_raw(dir, name, dict, &data);
        let e = err_of(&p);
        let msg = e.to_string();
        assert!(ok(&e), "{name}: unexpected error {msg}");
        assert!(
            msg.contains(name),
            "{name}: message does not name the file: {msg}"
        );
        assert!(
            !msg.contains('\n'),
            "{name}: message is not one line: {msg}"
        );
    }
    // Missing file, and a file that is none of the formats.
    let e = err_of(&dir.join("nope.npy"));
    assert!(matches!(e, FieldsError::Io { .. }) && e.to_string().contains("nope.npy"));
    let p = dir.join("text.npy");
    std::fs::write(&p, "hello").unwrap();
    assert!(matches!(err_of(&p), FieldsError::Format { .. }));
}

#[test]
fn check_finite_names_first_bad_pixel() {
    let d = tmp();
    let mut a = ramp(3, 4);
    a[[1, 2, 3]] = f32::INFINITY;
    a[[2, 0, 0]] = f32::NAN;
    let p = d.path().join("nan.npy");
    write_npy_f32(&p, a.view()).unwrap();
    let e = MapStack::open(&p).unwrap().check_finite().unwrap_err();
    assert!(
        matches!(
            e,
            FieldsError::NonFinite {
                map: 1,
                i: 2,
                j: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nan.npy"));
    let e = check_finite(a.view(), Path::new("mem")).unwrap_err();
    assert!(matches!(
        e,
        FieldsError::NonFinite {
            map: 1,
            i: 2,
            j: 3,
            ..
        }
    ));
    assert!(check_finite(ramp(2, 3).view(), Path::new("mem")).is_ok());
}

#[test]
fn atomic_write_leaves_no_temporary_and_replaces_old_file() {
    let d = tmp();
    let p = d.path().join("x.npy");
    write_npy_f32(&p, ramp(1, 3).view()).unwrap();
    write_npy_f32(&p, ramp(2, 3).view()).unwrap();
    assert_eq!(MapStack::open(&p).unwrap().len(), 2);
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A failing writer leaves the old file in place.
    let r = write_atomic(&p, |_| Err(std::io::Error::other("boom")));
    assert!(r.is_err());
    assert_eq!(MapStack::open(&p).unwrap().len(), 2);
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}

#[test]
fn from_array_wraps_in_memory_maps() {
    let a = ramp(2, 5);
    let s = MapStack::from_array("<generated>", a.view()).unwrap();
    assert_eq!(s.to_array3_f32(), a);
    assert!(MapStack::from_array("x", Array3::<f32>::zeros((2, 3, 4)).view()).is_err());
}

#[test]
fn headers_whose_sizes_overflow_are_refused_not_wrapped() {
    // Shapes whose byte count n·N·N·size wraps usize: before the checked arithmetic they passed
    // the truncation check and every later read panicked or tried to allocate exabytes.
    let d = tmp();
    for (k, shape) in ["(18014398509481984, 16, 16)", "(4, 2147483648, 2147483648)"]
        .iter()
        .enumerate()
    {
        let p = d.path().join(format!("over{k}.npy"));
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        std::fs::write(&p, raw_npy(&dict, 1, &[0u8; 1024])).unwrap();
        let e = err_of(&p);
        let msg = e.to_string();
        assert!(matches!(e, FieldsError::Shape { .. }), "{msg}");
        assert!(
            msg.contains("overflow") && msg.contains(&format!("over{k}.npy")),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }
    // The FITS equivalent, NAXIS3 = 2^54, and an extension skip whose size overflows.
    let p = d.path().join("over.fits");
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "-32"),
        card("NAXIS", "3"),
        card("NAXIS1", "16"),
        card("NAXIS2", "16"),
        card("NAXIS3", "18014398509481984"),
    ];
    std::fs::write(&p, fits_bytes(&cards, &[0u8; 2880])).unwrap();
    let msg = err_of(&p).to_string();
    assert!(
        msg.contains("overflow") && msg.contains("over.fits"),
        "{msg}"
    );
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "8"),
        card("NAXIS", "0"),
        card("PCOUNT", "9223372036854775807"),
        card("GCOUNT", "4"),
    ];
    std::fs::write(&p, fits_bytes(&cards, &[0u8; 2880])).unwrap();
    assert!(MapStack::open(&p).is_err());
}

#[test]
fn non_ascii_fits_cards_are_an_error_not_a_panic() {
    let d = tmp();
    let p = d.path().join("utf8.fits");
    // A two-byte character straddling the key/value boundary at byte 8.
    let mut c = card("SIMPLE", "T");
    c.replace_range(0..9, "SIMPLE é");
    assert_eq!((c.len(), c.is_char_boundary(8)), (80, false));
    std::fs::write(&p, fits_bytes(&[c], &[])).unwrap();
    assert!(err_of(&p).to_string().contains("non-ASCII"));
}

#[test]
fn npz_members_cannot_claim_more_than_the_archive_could_hold() {
    // Found by the npz fuzz target: a 223-byte archive whose member claims ~1.9 GB was given
    // that buffer up front. Now the claim is checked against the file's real size.
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/npz/claims-1.9GB-from-223-bytes.npz");
    let msg = err_of(&p).to_string();
    assert!(msg.contains("claims-1.9GB-from-223-bytes.npz"), "{msg}");
    assert!(!msg.contains('\n'));
    // A well-formed member far larger than its stored bytes (zeros deflate 1000:1) still reads.
    let d = tmp();
    let big = d.path().join("zeros.npz");
    let npy = d.path().join("zeros.npy");
    write_npy_f32(&npy, Array3::<f32>::zeros((4, 256, 256)).view()).unwrap();
    let mut z = zip::ZipWriter::new(File::create(&big).unwrap());
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("a.npy", deflated).unwrap();
    z.write_all(&std::fs::read(&npy).unwrap()).unwrap();
    z.finish().unwrap();
    assert!(std::fs::metadata(&big).unwrap().len() < 10_000);
    assert_eq!(MapStack::open(&big).unwrap().shape(), (4, 256, 256));
}
