//! Host names of simulated nodes. Vnode ids are SHA-1 of the host name, so the names carry the
//! seed: another seed is another ring.

/// The prefix given to [`dendrite::mem::Cluster::set_host_prefix`] for `seed`.
pub fn host_prefix(seed: u64) -> String {
    format!("s{seed}-node")
}

/// The name the cluster gives its `index`-th node under `seed`'s prefix.
pub fn host(seed: u64, index: usize) -> String {
    format!("{}{index}:7000", host_prefix(seed))
}
