//! Being written.

use super::{Options, Outcome};
use crate::error::SimError;

/// Runs the experiment.
pub fn run(_options: &Options) -> Result<Outcome, SimError> {
    Ok(Outcome::default())
}
