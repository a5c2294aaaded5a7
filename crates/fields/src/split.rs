//! Train/validation/test splits over *units* — simulations for CAMELS, source
//! maps or regions for dust — never over individual maps, so no information
//! from a test simulation leaks into training.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{FieldsError, Result};
use crate::rng::substream;

/// How units are assigned to splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SplitSpec {
    /// Shuffle the units with `seed`, then take the first `round(train·n)` for
    /// training, the next `round(val·n)` for validation and the rest for test.
    Fractions {
        train: f64,
        val: f64,
        test: f64,
        seed: u64,
    },
    /// Explicit unit index lists (e.g. simulations 0–699 / 700–849 / 850–999).
    Explicit {
        train: Vec<usize>,
        val: Vec<usize>,
        test: Vec<usize>,
    },
}

/// Unit indices of each split, each list sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

impl SplitSpec {
    /// Parse `--split`: three comma-separated fractions (`0.7,0.15,0.15`,
    /// summing to 1), or three index ranges (`0-699,700-849,850-999`; a range is
    /// `a-b` inclusive, a single `a`, several joined with `+` like `0-9+20-29`,
    /// or empty for none, as in `0-1,,2`). `seed` is used by fractions only.
    pub fn parse(text: &str, seed: u64) -> Result<SplitSpec> {
        let bad = |why: String| FieldsError::invalid(format!("--split '{text}'"), why);
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() != 3 {
            return Err(bad(format!(
                "expected 3 comma-separated parts (train,val,test), got {}",
                parts.len()
            )));
        }
        let is_fraction = parts.iter().any(|p| p.contains('.'));
        if is_fraction {
            let f: Vec<f64> = parts
                .iter()
                .map(|p| {
                    p.parse::<f64>()
                        .map_err(|_| bad(format!("'{p}' is not a number")))
                })
                .collect::<Result<_>>()?;
            let spec = SplitSpec::Fractions {
                train: f[0],
                val: f[1],
                test: f[2],
                seed,
            };
            spec.validate()?;
            return Ok(spec);
        }
        let mut lists = Vec::new();
        for p in &parts {
            let mut v = Vec::new();
            for piece in p.split('+').map(str::trim).filter(|s| !s.is_empty()) {
                let (a, b) = match piece.split_once('-') {
                    Some((a, b)) => (a.trim(), b.trim()),
                    None => (piece, piece),
                };
                let a: usize = a
                    .parse()
                    .map_err(|_| bad(format!("'{piece}' is not a range a-b")))?;
                let b: usize = b
                    .parse()
                    .map_err(|_| bad(format!("'{piece}' is not a range a-b")))?;
                if b < a {
                    return Err(bad(format!("range '{piece}' runs backwards")));
                }
                v.extend(a..=b);
            }
            lists.push(v);
        }
        let spec = SplitSpec::Explicit {
            test: lists.pop().unwrap(),
            val: lists.pop().unwrap(),
            train: lists.pop().unwrap(),
        };
        spec.validate()?;
        Ok(spec)
    }

    fn validate(&self) -> Result<()> {
        match self {
            SplitSpec::Fractions {
                train, val, test, ..
            } => {
                let f = [*train, *val, *test];
                if f.iter().any(|x| !x.is_finite() || *x < 0.0)
                    || (f.iter().sum::<f64>() - 1.0).abs() > 1e-6
                {
                    return Err(FieldsError::invalid(
                        "split fractions",
                        format!("{train},{val},{test} must be ≥ 0 and sum to 1"),
                    ));
                }
                if *train <= 0.0 {
                    return Err(FieldsError::invalid(
                        "split fractions",
                        "the training fraction must be > 0",
                    ));
                }
            }
            SplitSpec::Explicit { train, val, test } => {
                if train.is_empty() {
                    return Err(FieldsError::invalid("split", "the training set is empty"));
                }
                let mut all: Vec<usize> = train.iter().chain(val).chain(test).copied().collect();
                all.sort_unstable();
                if let Some(w) = all.windows(2).find(|w| w[0] == w[1]) {
                    return Err(FieldsError::invalid(
                        "split",
                        format!("unit {} is in two splits (or listed twice)", w[0]),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Assign `n_units` units (0..n_units) to train/val/test.
    pub fn assign(&self, n_units: usize) -> Result<Split> {
        self.validate()?;
        let mut split = match self {
            SplitSpec::Fractions {
                train, val, seed, ..
            } => {
                let mut idx: Vec<usize> = (0..n_units).collect();
                idx.shuffle(&mut substream(*seed, &[0x5911_7000]));
                let n_train = ((train * n_units as f64).round() as usize).clamp(1, n_units);
                let n_val = ((val * n_units as f64).round() as usize).min(n_units - n_train);
                Split {
                    train: idx[..n_train].to_vec(),
                    val: idx[n_train..n_train + n_val].to_vec(),
                    test: idx[n_train + n_val..].to_vec(),
                }
            }
            SplitSpec::Explicit { train, val, test } => {
                if let Some(&bad) = train.iter().chain(val).chain(test).find(|&&u| u >= n_units) {
                    return Err(FieldsError::invalid(
                        "split",
                        format!(
                            "unit {bad} does not exist: there are {n_units} (0..={})",
                            n_units.saturating_sub(1)
                        ),
                    ));
                }
                Split {
                    train: train.clone(),
                    val: val.clone(),
                    test: test.clone(),
                }
            }
        };
        if n_units == 0 || split.train.is_empty() {
            return Err(FieldsError::invalid(
                "split",
                format!("no training units out of {n_units}"),
            ));
        }
        split.train.sort_unstable();
        split.val.sort_unstable();
        split.test.sort_unstable();
        Ok(split)
    }
}

impl Split {
    /// Which split a unit is in: `Some("train" | "val" | "test")`.
    pub fn which(&self, unit: usize) -> Option<&'static str> {
        if self.train.binary_search(&unit).is_ok() {
            Some("train")
        } else if self.val.binary_search(&unit).is_ok() {
            Some("val")
        } else if self.test.binary_search(&unit).is_ok() {
            Some("test")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_partition_all_units_deterministically() {
        let spec = SplitSpec::parse("0.7,0.15,0.15", 42).unwrap();
        let s = spec.assign(1000).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (700, 150, 150));
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.val)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(spec.assign(1000).unwrap(), s);
        let other = SplitSpec::parse("0.7,0.15,0.15", 43)
            .unwrap()
            .assign(1000)
            .unwrap();
        assert_ne!(other, s);
    }

    #[test]
    fn explicit_ranges_like_the_follow_up_paper() {
        let s = SplitSpec::parse("0-699,700-849,850-999", 0)
            .unwrap()
            .assign(1000)
            .unwrap();
        assert_eq!(s.train, (0..700).collect::<Vec<_>>());
        assert_eq!(s.val, (700..850).collect::<Vec<_>>());
        assert_eq!(s.test, (850..1000).collect::<Vec<_>>());
        assert_eq!(s.which(849), Some("val"));
        let s = SplitSpec::parse("0-1,,2", 0).unwrap().assign(3).unwrap();
        assert_eq!((s.train, s.val, s.test), (vec![0, 1], vec![], vec![2]));
        let s = SplitSpec::parse("0+2,1,3-4", 0).unwrap().assign(5).unwrap();
        assert_eq!(s.train, vec![0, 2]);
    }

    #[test]
    fn bad_split_specs_are_rejected() {
        for bad in [
            "0.7,0.2",
            "0.7,0.2,0.2",
            "a,b,c",
            "0-5,5-6,7",
            "3-1,4,5",
            ",1,2",
            "-0.1,0.6,0.5",
        ] {
            assert!(SplitSpec::parse(bad, 0).is_err(), "{bad}");
        }
        let e = SplitSpec::parse("0-9,10,11", 0)
            .unwrap()
            .assign(11)
            .unwrap_err();
        assert!(e.to_string().contains("unit 11 does not exist"), "{e}");
    }
}
