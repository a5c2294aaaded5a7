//! Shared test helpers: locating and loading the oracle fixtures.
#![allow(dead_code)]

use ndarray::Array2;
use ndarray_npy::read_npy;
use serde_json::Value;
use std::path::PathBuf;

/// `shared/fixtures/metrics` next to the repository, or `$ASTRODIFF_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("ASTRODIFF_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/metrics"
        )),
    }
}

pub struct Case {
    pub name: String,
    pub field: Array2<f64>,
    pub json: Value,
}

/// Every case listed in manifest.json, fields promoted exactly to f64.
pub fn load_cases() -> Vec<Case> {
    let dir = fixtures_dir();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json"))
            .unwrap_or_else(|e| panic!("cannot read {}/manifest.json: {e}", dir.display())),
    )
    .expect("manifest.json parses");
    let cases = manifest["cases"].as_array().expect("cases array");
    assert!(!cases.is_empty(), "manifest lists no cases");
    cases
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let path = dir.join(c["field"].as_str().unwrap());
            let field = match c["dtype"].as_str().unwrap() {
                "float32" => read_npy::<_, Array2<f32>>(&path).unwrap().mapv(f64::from),
                "float64" => read_npy::<_, Array2<f64>>(&path).unwrap(),
                other => panic!("{name}: unexpected dtype {other}"),
            };
            let shape: Vec<usize> = c["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(field.shape(), &shape[..], "{name}: shape");
            let json: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(c["json"].as_str().unwrap())).unwrap(),
            )
            .unwrap();
            Case { name, field, json }
        })
        .collect()
}

/// JSON array of numbers (null → NaN) as f64.
pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

pub fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// |a − b| ≤ rel·|b| + abs, element-wise, with a message naming the case, quantity and index.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64, abs: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs() + abs,
            "{what}[{i}]: got {g}, want {w} (|diff| {:e})",
            (g - w).abs()
        );
    }
}
