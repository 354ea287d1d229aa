//! What can stop a simulation run.

use std::path::PathBuf;

/// Why an experiment could not run or its results could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The tokio runtime could not be built.
    #[error("could not start the simulation runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The ring refused to start (usually a bad configuration in the experiment's set-up).
    #[error("the ring failed during the experiment set-up: {0}")]
    Ring(#[from] dendrite::RingError),
    /// An output file could not be written.
    #[error("could not write {path}: {source}; check that the output directory is writable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A command-line value makes no sense for this experiment.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}
