//! The runtime every ring experiment runs on: one thread, tokio's clock paused, so timers fire
//! in virtual time as fast as the CPU allows and a run is a function of its seed.

use std::future::Future;

use crate::error::SimError;

/// Runs `scenario` to completion on a fresh current-thread runtime with the clock paused.
pub fn in_virtual_time<F: Future>(scenario: F) -> Result<F::Output, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(SimError::Runtime)?;
    Ok(runtime.block_on(scenario))
}
