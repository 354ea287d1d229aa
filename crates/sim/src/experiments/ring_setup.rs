//! Rings for the dynamic experiments: real `dendrite::Ring` nodes on the in-memory network.

use std::time::Duration;

use dendrite::mem::Cluster;
use dendrite::Config;

use crate::error::SimError;
use crate::naming;

/// A pause so long that stabilization never runs during a static experiment.
pub const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// A node configuration with one vnode (as in the paper), `successors` successors, and no
/// stabilization: the experiments that need it set their own intervals.
pub fn template(successors: usize) -> Config {
    let mut config = Config::new("sim:1");
    config.num_vnodes = 1;
    config.num_successors = successors;
    config.replicas = successors.min(2);
    config.stabilize_min = NEVER;
    config.stabilize_max = NEVER;
    config.rpc_timeout = Duration::from_millis(500);
    config.lookup_timeout = Duration::from_secs(60);
    config.max_lookup_hops = 256;
    // Events are recorded by the cluster's listeners as they come; a small buffer keeps the
    // memory of 10^4 rings in check.
    config.event_buffer = 16;
    config
}

/// `nodes` nodes named under `seed` with converged pointers installed directly.
pub async fn converged(seed: u64, nodes: usize, template: Config) -> Result<Cluster, SimError> {
    let mut cluster = Cluster::new(seed, template);
    cluster.set_host_prefix(&naming::host_prefix(seed));
    cluster.add_converged(nodes).await?;
    Ok(cluster)
}
