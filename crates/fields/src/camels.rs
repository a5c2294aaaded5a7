//! The CAMELS Multifield Dataset (CMD) file layout.
//!
//! Maps come as one stack per field, suite and set:
//! `Maps_<field>_<suite>_<set>_z=<z>.npy`, e.g. `Maps_Mcdm_IllustrisTNG_LH_z=0.00.npy`
//! (15 000 maps of 256² pixels, 25 Mpc/h boxes, float32). The parameters of
//! the simulations are a text table, one row per simulation, in
//! `params_<set>_<suite>.txt` (newer releases) or `params_<suite>.txt` (older),
//! columns Ω_m, σ_8, A_SN1, A_AGN1, A_SN2, A_AGN2. Map `m` belongs to
//! simulation `m / maps_per_sim` with `maps_per_sim = n_maps / n_rows`
//! (15 for CMD 2D maps: 5 slices × 3 projection axes).
//!
//! The built-in simulator writes the same layout (`Maps_Mcdm_<name>_LH_z=0.00.npy`
//! with `params_LH_<name>.txt`), so the same code reads both.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{FieldsError, Result};
use crate::io::MapStack;

/// Column names used for 6-column CMD parameter tables.
pub const PARAM_NAMES: [&str; 6] = ["Omega_m", "sigma_8", "A_SN1", "A_AGN1", "A_SN2", "A_AGN2"];

/// The parts of a CMD map file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmdName {
    /// Field, e.g. `Mcdm`, `Mtot`, `T`, `HI`.
    pub field: String,
    /// Suite, e.g. `IllustrisTNG`, `SIMBA`, `Astrid`, `Nbody_IllustrisTNG`, or a simulator run name.
    pub suite: String,
    /// Set, e.g. `LH`, `1P`, `CV`, `EX`.
    pub set: String,
    /// Redshift as written in the name (`0.00`).
    pub redshift: String,
}

impl CmdName {
    /// Parse a path or file name `Maps_<field>_<suite>_<set>_z=<z>.npy`;
    /// `None` if it does not follow that pattern.
    pub fn parse(path: impl AsRef<Path>) -> Option<CmdName> {
        let name = path.as_ref().file_name()?.to_str()?;
        let stem = name.strip_prefix("Maps_")?.strip_suffix(".npy")?;
        let (head, z) = stem.rsplit_once("_z=")?;
        z.parse::<f64>().ok()?;
        let (field, rest) = head.split_once('_')?;
        let (suite, set) = rest.rsplit_once('_')?;
        if field.is_empty() || suite.is_empty() || set.is_empty() {
            return None;
        }
        Some(CmdName {
            field: field.into(),
            suite: suite.into(),
            set: set.into(),
            redshift: z.into(),
        })
    }

    /// Redshift as a number.
    pub fn z(&self) -> f64 {
        self.redshift.parse().unwrap_or(f64::NAN)
    }

    /// Candidate parameter-table names, most specific first.
    pub fn params_candidates(&self) -> Vec<String> {
        let mut v = vec![
            format!("params_{}_{}.txt", self.set, self.suite),
            format!("params_{}.txt", self.suite),
        ];
        // CMD's N-body maps share the hydro suite's parameter table.
        if let Some(hydro) = self.suite.strip_prefix("Nbody_") {
            v.push(format!("params_{}_{hydro}.txt", self.set));
            v.push(format!("params_{hydro}.txt"));
        }
        v
    }

    /// The parameter table next to `maps_path`, if one of the candidate names exists.
    pub fn find_params(&self, maps_path: &Path) -> Option<PathBuf> {
        let dir = maps_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        self.params_candidates()
            .into_iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    }
}

/// A parameter table: one row per simulation.
#[derive(Debug, Clone)]
pub struct ParamsTable {
    pub path: PathBuf,
    /// Column names: [`PARAM_NAMES`] for 6-column tables, else from the `#`
    /// header line, which must then name every column.
    pub names: Vec<String>,
    /// `(n_simulations, n_columns)`.
    pub rows: Array2<f64>,
}

impl ParamsTable {
    /// Read a whitespace- (or comma-) separated table; lines starting with `#`
    /// are comments (the first one may name the columns), blank lines are skipped.
    pub fn read(path: impl AsRef<Path>) -> Result<ParamsTable> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| FieldsError::io(path, "cannot read parameter table", e))?;
        let mut header: Option<Vec<String>> = None;
        let mut values: Vec<f64> = Vec::new();
        let mut ncol = 0usize;
        let mut nrow = 0usize;
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(c) = line.strip_prefix('#') {
                if header.is_none() && nrow == 0 {
                    header = Some(
                        c.split([' ', '\t', ','])
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                continue;
            }
            let row: Vec<f64> = line
                .split([' ', '\t', ','])
                .filter(|s| !s.is_empty())
                .map(|t| {
                    t.parse::<f64>().map_err(|_| FieldsError::Params {
                        path: path.into(),
                        reason: format!("line {}: '{t}' is not a number", lineno + 1),
                    })
                })
                .collect::<Result<_>>()?;
            if nrow == 0 {
                ncol = row.len();
            } else if row.len() != ncol {
                return Err(FieldsError::Params {
                    path: path.into(),
                    reason: format!(
                        "line {}: {} columns, earlier rows have {ncol}",
                        lineno + 1,
                        row.len()
                    ),
                });
            }
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(FieldsError::Params {
                    path: path.into(),
                    reason: format!("line {}: non-finite value {v}", lineno + 1),
                });
            }
            values.extend(row);
            nrow += 1;
        }
        if nrow == 0 || ncol == 0 {
            return Err(FieldsError::Params {
                path: path.into(),
                reason: "no parameter rows".into(),
            });
        }
        let names = if ncol == PARAM_NAMES.len() {
            PARAM_NAMES.iter().map(|s| s.to_string()).collect()
        } else {
            match header {
                Some(h) if h.len() == ncol => h,
                // Nothing says what the columns are: a CMD table with a column lost is more
                // likely than a new layout, and guessed names would be silently wrong.
                _ => {
                    return Err(FieldsError::Params {
                        path: path.into(),
                        reason: format!(
                        "{ncol} columns, but CAMELS CMD tables have {} ({}); for another layout \
                             name every column in a first '#' line",
                        PARAM_NAMES.len(),
                        PARAM_NAMES.join(" ")
                    ),
                    })
                }
            }
        };
        Ok(ParamsTable {
            path: path.into(),
            names,
            rows: Array2::from_shape_vec((nrow, ncol), values).expect("row lengths checked"),
        })
    }

    /// Number of simulations (rows).
    pub fn len(&self) -> usize {
        self.rows.nrows()
    }

    /// True if there are no rows (never for a table that was read).
    pub fn is_empty(&self) -> bool {
        self.rows.nrows() == 0
    }
}

/// Maps per simulation `n_maps / n_rows`; an error naming both files if it is not a whole number.
pub fn maps_per_simulation(n_maps: usize, maps_path: &Path, params: &ParamsTable) -> Result<usize> {
    let n_rows = params.len();
    if n_rows == 0 || n_maps / n_rows * n_rows != n_maps || n_maps < n_rows {
        return Err(FieldsError::Params {
            path: params.path.clone(),
            reason: format!(
                "{n_rows} parameter rows do not divide the {n_maps} maps of {} into whole simulations",
                maps_path.display()
            ),
        });
    }
    Ok(n_maps / n_rows)
}

/// A CMD map stack with its parameter table (when there is one).
#[derive(Debug)]
pub struct CmdStack {
    pub maps: MapStack,
    /// Parsed file name, if the file follows the CMD naming.
    pub name: Option<CmdName>,
    pub params: Option<ParamsTable>,
    /// Maps per simulation (1 when there is no table: every map its own unit).
    pub maps_per_sim: usize,
}

impl CmdStack {
    /// Open a map stack and its parameter table. With `params == None` the
    /// table is looked for next to the maps under the CMD names; if none is
    /// found, each map counts as its own simulation.
    pub fn open(maps_path: impl AsRef<Path>, params: Option<&Path>) -> Result<CmdStack> {
        let maps_path = maps_path.as_ref();
        let maps = MapStack::open(maps_path)?;
        let name = CmdName::parse(maps_path);
        let params_path = match params {
            Some(p) => Some(p.to_path_buf()),
            None => name.as_ref().and_then(|n| n.find_params(maps_path)),
        };
        let params = params_path.map(ParamsTable::read).transpose()?;
        let maps_per_sim = match &params {
            Some(t) => maps_per_simulation(maps.len(), maps_path, t)?,
            None => 1,
        };
        Ok(CmdStack {
            maps,
            name,
            params,
            maps_per_sim,
        })
    }

    /// Number of simulations.
    pub fn n_simulations(&self) -> usize {
        self.maps.len() / self.maps_per_sim
    }

    /// The simulation map `m` belongs to.
    pub fn simulation_of_map(&self, m: usize) -> usize {
        m / self.maps_per_sim
    }

    /// The maps of simulation `s`.
    pub fn maps_of_simulation(&self, s: usize) -> Range<usize> {
        s * self.maps_per_sim..(s + 1) * self.maps_per_sim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::write_npy_f32;
    use ndarray::Array3;

    const REAL: &str = "../../../shared/data/real/camels_params";

    fn real_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(REAL)
    }

    #[test]
    fn parses_cmd_names() {
        let n = CmdName::parse("/data/Maps_Mcdm_IllustrisTNG_LH_z=0.00.npy").unwrap();
        assert_eq!(
            (n.field.as_str(), n.suite.as_str(), n.set.as_str()),
            ("Mcdm", "IllustrisTNG", "LH")
        );
        assert_eq!(n.z(), 0.0);
        let n = CmdName::parse("Maps_Mtot_Nbody_SIMBA_1P_z=1.50.npy").unwrap();
        assert_eq!(
            (n.suite.as_str(), n.set.as_str(), n.z()),
            ("Nbody_SIMBA", "1P", 1.5)
        );
        assert!(n
            .params_candidates()
            .contains(&"params_1P_SIMBA.txt".to_string()));
        assert_eq!(n.params_candidates()[0], "params_1P_Nbody_SIMBA.txt");
        for bad in [
            "Maps_Mcdm_LH_z=0.npy",
            "maps.npy",
            "Maps_Mcdm_TNG_LH_z=abc.npy",
            "Maps_Mcdm_TNG_LH_z=0.00.fits",
        ] {
            assert!(CmdName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn reads_the_real_cmd_params_tables() {
        for suite in ["IllustrisTNG", "SIMBA"] {
            let t = ParamsTable::read(real_dir().join(format!("params_LH_{suite}.txt"))).unwrap();
            assert_eq!(t.rows.dim(), (1000, 6));
            assert_eq!(t.names, PARAM_NAMES);
            // CMD LH ranges (README of the data folder).
            let col = |k: usize| t.rows.column(k).to_vec();
            let within = |k: usize, lo: f64, hi: f64| col(k).iter().all(|&v| v >= lo && v <= hi);
            assert!(within(0, 0.1, 0.5) && within(1, 0.6, 1.0));
            assert!(within(2, 0.25, 4.0) && within(3, 0.25, 4.0));
            assert!(within(4, 0.5, 2.0) && within(5, 0.5, 2.0));
        }
        let t = ParamsTable::read(real_dir().join("params_LH_IllustrisTNG.txt")).unwrap();
        assert_eq!(
            t.rows.row(0).to_vec(),
            vec![0.30900, 0.97900, 3.11234, 1.12194, 0.66850, 0.53182]
        );
    }

    #[test]
    fn map_to_simulation_mapping_with_synthetic_cmd_files() {
        let d = tempfile::tempdir().unwrap();
        let maps = d.path().join("Maps_Mcdm_TestSuite_LH_z=0.00.npy");
        // 4 simulations × 3 maps; every pixel of map m equals its simulation index.
        let a = Array3::from_shape_fn((12, 4, 4), |(m, _, _)| (m / 3) as f32);
        write_npy_f32(&maps, a.view()).unwrap();
        std::fs::write(
            d.path().join("params_LH_TestSuite.txt"),
            "# Om sigma8 SN1 AGN1 SN2 AGN2\n0.1 0.6 1 1 1 1\n0.2 0.7 1 1 1 1\n\n0.3 0.8 1 1 1 1\n0.4 0.9 1 1 1 1\n",
        )
        .unwrap();
        let c = CmdStack::open(&maps, None).unwrap();
        assert_eq!((c.maps_per_sim, c.n_simulations()), (3, 4));
        for m in 0..12 {
            let s = c.simulation_of_map(m);
            assert_eq!(c.maps.map(m)[[0, 0]], s as f64);
            assert!(c.maps_of_simulation(s).contains(&m));
            assert_eq!(
                c.params.as_ref().unwrap().rows[[s, 0]],
                [0.1, 0.2, 0.3, 0.4][s]
            );
        }
        // Fallback name params_<suite>.txt.
        std::fs::rename(
            d.path().join("params_LH_TestSuite.txt"),
            d.path().join("params_TestSuite.txt"),
        )
        .unwrap();
        assert_eq!(CmdStack::open(&maps, None).unwrap().maps_per_sim, 3);
    }

    #[test]
    fn params_rows_not_dividing_maps_is_an_error_naming_both_files() {
        let d = tempfile::tempdir().unwrap();
        let maps = d.path().join("Maps_Mcdm_X_LH_z=0.00.npy");
        write_npy_f32(&maps, Array3::<f32>::ones((10, 4, 4)).view()).unwrap();
        let p = d.path().join("params_LH_X.txt");
        std::fs::write(&p, "1 2 3 4 5 6\n1 2 3 4 5 6\n1 2 3 4 5 6\n").unwrap();
        let e = CmdStack::open(&maps, None).unwrap_err().to_string();
        assert!(
            e.contains("params_LH_X.txt") && e.contains("Maps_Mcdm_X_LH_z=0.00.npy"),
            "{e}"
        );
        assert!(
            e.contains("3 parameter rows") && e.contains("10 maps"),
            "{e}"
        );
        // Ragged and non-numeric tables.
        std::fs::write(&p, "1 2 3 4 5 6\n1 2 3\n").unwrap();
        let e = ParamsTable::read(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("params_LH_X.txt"), "{e}");
        std::fs::write(&p, "1 2 x 4 5 6\n").unwrap();
        assert!(ParamsTable::read(&p)
            .unwrap_err()
            .to_string()
            .contains("'x' is not a number"));
    }
}
