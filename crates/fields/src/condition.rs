//! Conditioning on simulation parameters: which columns of a dataset's parameter table a model
//! is conditioned on, by name, their prior box, and the one rule that turns a physical θ into
//! the network's conditioning input.
//!
//! **Names.** A column is named by the dataset's name for it (`Omega_m`, `sigma_8`, `A_SN1`,
//! `A_AGN1`, `A_SN2`, `A_AGN2` for the 6-column CAMELS table, [`crate::camels::PARAM_NAMES`]) or
//! by the CAMELS file header's (`Om`, `sigma8`, `SN1`, `AGN1`, `SN2`, `AGN2`,
//! [`CAMELS_HEADER`]). The names a user gave are kept and used in every output.
//!
//! **Prior box.** For the CAMELS columns, the box of the CAMELS Latin hypercube (Villaescusa-Navarro
//! et al. 2021, the CAMELS paper; the same box the simulator samples, `sim::SuiteConfig::new`):
//! Ω_m ∈ [0.1, 0.5], σ₈ ∈ [0.6, 1.0], A_SN1, A_AGN1 ∈ [0.25, 4], A_SN2, A_AGN2 ∈ [0.5, 2]. For any
//! other column, the training split's [min, max] ([`BoxSource::TrainingRange`]).
//!
//! **Network input.** `u = 2(θ − lo)/(hi − lo) − 1 ∈ [−1, 1]` per parameter, then a presence
//! flag 1: a row of `len + 1` values. The "no condition" row (classifier-free guidance's ∅, and
//! what condition dropout trains on) is all zeros, flag included, so it is never confused with
//! the box centre. θ outside the box is refused (the network has seen nothing there).

use crate::error::{FieldsError, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The CAMELS parameter-file header's column names, in the order of
/// [`crate::camels::PARAM_NAMES`].
pub const CAMELS_HEADER: [&str; 6] = ["Om", "sigma8", "SN1", "AGN1", "SN2", "AGN2"];

/// The CAMELS LH prior box of each column of [`crate::camels::PARAM_NAMES`] (module docs).
pub const CAMELS_BOX: [(f64, f64); 6] = [
    (0.1, 0.5),
    (0.6, 1.0),
    (0.25, 4.0),
    (0.25, 4.0),
    (0.5, 2.0),
    (0.5, 2.0),
];

/// Where a parameter's box comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxSource {
    /// The CAMELS Latin hypercube's documented range.
    Camels,
    /// The training split's smallest and largest value.
    TrainingRange,
}

/// One conditioned parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionParam {
    /// As the user named it (`--condition Om,...`).
    pub name: String,
    /// The dataset's column name.
    pub column: String,
    pub lo: f64,
    pub hi: f64,
    pub box_from: BoxSource,
}

/// The parameters a model is conditioned on, in input order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub params: Vec<ConditionParam>,
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> FieldsError {
    FieldsError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Index of the column `name` refers to (module docs, "Names").
fn column_index(name: &str, columns: &[String]) -> Option<usize> {
    columns.iter().position(|c| c == name).or_else(|| {
        let k = CAMELS_HEADER.iter().position(|h| *h == name)?;
        let full = crate::camels::PARAM_NAMES[k];
        columns.iter().position(|c| c == full)
    })
}

impl Condition {
    /// The parameters `requested` (names as the user gave them) among a dataset's `columns`;
    /// `train` is the training split's parameter rows (one column per entry of `columns`), which
    /// sets the box of a column CAMELS does not define. Errors name the missing column and list
    /// the available ones.
    pub fn select(
        requested: &[String],
        columns: &[String],
        train: Option<&Array2<f32>>,
    ) -> Result<Condition> {
        if requested.is_empty() {
            return Err(invalid("--condition", "names no parameter"));
        }
        if columns.is_empty() {
            return Err(invalid(
                "--condition",
                "the dataset has no parameter table (prepare it from maps with a params_*.txt beside them)",
            ));
        }
        let available = || {
            columns
                .iter()
                .map(
                    |c| match crate::camels::PARAM_NAMES.iter().position(|p| p == c) {
                        Some(k) => format!("{c} ({})", CAMELS_HEADER[k]),
                        None => c.clone(),
                    },
                )
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut params: Vec<ConditionParam> = Vec::new();
        for name in requested {
            let name = name.trim();
            let j = column_index(name, columns).ok_or_else(|| {
                invalid(
                    format!("--condition {name}"),
                    format!(
                        "no such column in the parameter table; it has {}",
                        available()
                    ),
                )
            })?;
            let column = columns[j].clone();
            if params.iter().any(|p| p.column == column) {
                return Err(invalid(
                    format!("--condition {name}"),
                    format!("names column {column} twice"),
                ));
            }
            let (lo, hi, box_from) = match crate::camels::PARAM_NAMES
                .iter()
                .position(|p| *p == column)
            {
                Some(k) => (CAMELS_BOX[k].0, CAMELS_BOX[k].1, BoxSource::Camels),
                None => {
                    let t = train.ok_or_else(|| {
                        invalid(
                            format!("--condition {name}"),
                            "not a CAMELS column and no training rows to take its range from",
                        )
                    })?;
                    let (lo, hi) = t
                        .column(j)
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                            (lo.min(v as f64), hi.max(v as f64))
                        });
                    if lo >= hi || lo.is_nan() {
                        return Err(invalid(
                            format!("--condition {name}"),
                            format!("column {column} does not vary in the training split ([{lo}, {hi}]): nothing to condition on"),
                        ));
                    }
                    (lo, hi, BoxSource::TrainingRange)
                }
            };
            params.push(ConditionParam {
                name: name.to_string(),
                column,
                lo,
                hi,
                box_from,
            });
        }
        Ok(Condition { params })
    }

    /// Number of conditioned parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Width of the network's conditioning input: the parameters and the presence flag.
    pub fn input_dim(&self) -> usize {
        self.params.len() + 1
    }

    /// The names as given, in input order.
    pub fn names(&self) -> Vec<&str> {
        self.params.iter().map(|p| p.name.as_str()).collect()
    }

    /// The network input of θ (in this condition's order, physical units); errors when a value
    /// is not finite or lies outside its box.
    pub fn input_row(&self, theta: &[f64]) -> Result<Vec<f32>> {
        if theta.len() != self.len() {
            return Err(invalid(
                "--params",
                format!(
                    "{} values for the model's {} parameters ({})",
                    theta.len(),
                    self.len(),
                    self.names().join(", ")
                ),
            ));
        }
        let mut row = Vec::with_capacity(self.input_dim());
        for (p, &v) in self.params.iter().zip(theta) {
            if !(v >= p.lo && v <= p.hi) {
                return Err(invalid(
                    format!("--params {}={v}", p.name),
                    format!(
                        "outside the model's prior box [{}, {}] ({})",
                        p.lo,
                        p.hi,
                        match p.box_from {
                            BoxSource::Camels => "the CAMELS Latin hypercube",
                            BoxSource::TrainingRange => "the training split's range",
                        }
                    ),
                ));
            }
            row.push((2.0 * (v - p.lo) / (p.hi - p.lo) - 1.0) as f32);
        }
        row.push(1.0);
        Ok(row)
    }

    /// The "no condition" input (module docs).
    pub fn null_row(&self) -> Vec<f32> {
        vec![0.0; self.input_dim()]
    }

    /// The network inputs of a dataset's parameter rows (all `columns`, as stored), for
    /// training. Rows outside the box are mapped all the same (a dataset may reach slightly past
    /// a rounded box); only sampling refuses them.
    pub fn input_rows(&self, columns: &[String], rows: &Array2<f32>) -> Result<Array2<f32>> {
        let idx: Vec<usize> = self
            .params
            .iter()
            .map(|p| {
                columns.iter().position(|c| *c == p.column).ok_or_else(|| {
                    invalid(
                        format!("condition {}", p.name),
                        format!("column {} is not in this dataset", p.column),
                    )
                })
            })
            .collect::<Result<_>>()?;
        if rows.ncols() != columns.len() {
            return Err(invalid(
                "parameter rows",
                format!("{} columns for {} names", rows.ncols(), columns.len()),
            ));
        }
        let mut out = Array2::<f32>::ones((rows.nrows(), self.input_dim()));
        for (i, row) in rows.outer_iter().enumerate() {
            for (k, (p, &j)) in self.params.iter().zip(&idx).enumerate() {
                out[[i, k]] = (2.0 * (row[j] as f64 - p.lo) / (p.hi - p.lo) - 1.0) as f32;
            }
        }
        Ok(out)
    }

    /// Parses `name=value,name=value` (every conditioned parameter exactly once, any order) into
    /// θ in this condition's order. A name may be given as the user did at training, or by its
    /// dataset column name or CAMELS header name.
    pub fn parse(&self, text: &str) -> Result<Vec<f64>> {
        let mut theta: Vec<Option<f64>> = vec![None; self.len()];
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                invalid(
                    format!("--params {part}"),
                    format!(
                        "expected name=value (the model's parameters: {})",
                        self.names().join(", ")
                    ),
                )
            })?;
            let (name, value) = (name.trim(), value.trim());
            let k = self.position(name).ok_or_else(|| {
                invalid(
                    format!("--params {name}"),
                    format!(
                        "unknown parameter; the model is conditioned on {}",
                        self.names().join(", ")
                    ),
                )
            })?;
            let v: f64 = value
                .parse()
                .map_err(|_| invalid(format!("--params {name}={value}"), "not a number"))?;
            if theta[k].replace(v).is_some() {
                return Err(invalid(format!("--params {name}"), "given twice"));
            }
        }
        let missing: Vec<&str> = self
            .params
            .iter()
            .zip(&theta)
            .filter(|(_, v)| v.is_none())
            .map(|(p, _)| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(
                "--params",
                format!(
                    "missing {} (give every conditioned parameter: {})",
                    missing.join(", "),
                    self.names().join(", ")
                ),
            ));
        }
        Ok(theta.into_iter().map(|v| v.expect("checked")).collect())
    }

    /// Index of the parameter `name` refers to: the name given at training, the column's name,
    /// or its CAMELS header name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| {
            p.name == name
                || p.column == name
                || crate::camels::PARAM_NAMES
                    .iter()
                    .position(|c| *c == p.column)
                    .is_some_and(|k| CAMELS_HEADER[k] == name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn camels_columns() -> Vec<String> {
        crate::camels::PARAM_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn header_and_column_names_select_the_camels_box() {
        let c =
            Condition::select(&["Om".into(), "sigma_8".into()], &camels_columns(), None).unwrap();
        assert_eq!(c.names(), ["Om", "sigma_8"]);
        assert_eq!(c.params[0].column, "Omega_m");
        assert_eq!((c.params[1].lo, c.params[1].hi), (0.6, 1.0));
        assert_eq!(c.input_dim(), 3);
        // Box edges map to ±1, the centre to 0; the flag is 1, the null row all zeros.
        assert_eq!(c.input_row(&[0.1, 1.0]).unwrap(), vec![-1.0, 1.0, 1.0]);
        let mid = c.input_row(&[0.3, 0.8]).unwrap();
        assert!(mid[0].abs() < 1e-6 && mid[1].abs() < 1e-6 && mid[2] == 1.0);
        assert_eq!(c.null_row(), vec![0.0; 3]);
        // Training rows: every column stored, the chosen ones mapped.
        let rows = array![
            [0.5f32, 0.6, 1.0, 1.0, 1.0, 1.0],
            [0.2, 0.9, 1.0, 1.0, 1.0, 1.0]
        ];
        let u = c.input_rows(&camels_columns(), &rows).unwrap();
        // (stored rows are float32: 0.6f32 is 0.6 to 1e-7)
        for (got, want) in u.row(0).iter().zip([1.0f32, -1.0, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{:?}", u.row(0));
        }
        assert!((u[[1, 0]] + 0.5).abs() < 1e-6 && (u[[1, 1]] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_missing_column_is_named_with_the_available_ones() {
        let e = Condition::select(&["Ob".into()], &camels_columns(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--condition Ob")
                && e.contains("Omega_m (Om)")
                && e.contains("sigma_8 (sigma8)"),
            "{e}"
        );
        let e = Condition::select(&["Om".into(), "Omega_m".into()], &camels_columns(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("twice"), "{e}");
        let e = Condition::select(&["Om".into()], &[], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no parameter table"), "{e}");
    }

    #[test]
    fn other_columns_take_the_training_range() {
        let cols = vec!["mass".to_string(), "z".to_string()];
        let train = array![[1.0f32, 0.0], [3.0, 0.0]];
        let c = Condition::select(&["mass".into()], &cols, Some(&train)).unwrap();
        assert_eq!(
            (c.params[0].lo, c.params[0].hi, c.params[0].box_from),
            (1.0, 3.0, BoxSource::TrainingRange)
        );
        let e = Condition::select(&["z".into()], &cols, Some(&train))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not vary"), "{e}");
    }

    #[test]
    fn params_text_is_parsed_by_name_and_checked_against_the_box() {
        let c =
            Condition::select(&["Om".into(), "sigma8".into()], &camels_columns(), None).unwrap();
        assert_eq!(c.parse("sigma8=0.75, Om=0.3").unwrap(), vec![0.3, 0.75]);
        assert_eq!(c.parse("Omega_m=0.3,sigma_8=0.8").unwrap(), vec![0.3, 0.8]);
        for (text, needle) in [
            ("Om=0.3", "missing sigma8"),
            ("Om=0.3,sigma8=0.8,h=0.7", "unknown parameter"),
            ("Om=0.3,Om=0.2,sigma8=0.8", "given twice"),
            ("Om=abc,sigma8=0.8", "not a number"),
            ("Om0.3", "expected name=value"),
        ] {
            let e = c.parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        let e = c.input_row(&[0.6, 0.8]).unwrap_err().to_string();
        assert!(e.contains("Om=0.6") && e.contains("[0.1, 0.5]"), "{e}");
        assert!(c.input_row(&[f64::NAN, 0.8]).is_err());
        assert!(c.input_row(&[0.3]).is_err());
    }
}
