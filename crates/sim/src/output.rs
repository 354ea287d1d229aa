//! Writing an experiment's CSVs and SVGs into the output directory.

use std::path::{Path, PathBuf};

use crate::error::SimError;
use crate::experiments::Outcome;

/// Writes every table as `<name>.csv` and every chart as `<name>.svg` under `dir` (created when
/// missing); returns the paths written.
pub fn write_outcome(dir: &Path, outcome: &Outcome) -> Result<Vec<PathBuf>, SimError> {
    std::fs::create_dir_all(dir).map_err(|source| SimError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let files = outcome
        .tables
        .iter()
        .map(|t| (format!("{}.csv", t.name), t.to_csv()))
        .chain(
            outcome
                .charts
                .iter()
                .map(|(name, c)| (format!("{name}.svg"), c.to_svg())),
        );
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|source| SimError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
