//! The coordinator's cached view of the ring: every vnode this node knows of (its vnodes'
//! predecessors, successor lists and fingers), so most requests go straight to the primary
//! without a lookup.
//!
//! A partial or stale view is safe: a vnode that does not own a key answers `moved` with the
//! vnode that does (as far as it knows), and a vnode that does not answer sends the coordinator
//! back to a real lookup. On a small ring the view is the whole ring.

use std::time::Duration;

use dendrite::{Id, Ring, Vnode};
use tokio::time::Instant;

/// How long a view is used before it is rebuilt from the ring's current state.
const FRESH_FOR: Duration = Duration::from_millis(500);

/// Known vnodes sorted by id.
pub(super) struct RingView {
    vnodes: Vec<Vnode>,
    built: Option<Instant>,
}

impl RingView {
    pub(super) fn new() -> RingView {
        RingView {
            vnodes: Vec::new(),
            built: None,
        }
    }

    /// Is the view too old to use?
    pub(super) fn is_stale(&self) -> bool {
        self.built.is_none_or(|at| at.elapsed() > FRESH_FOR)
    }

    /// Rebuilds the view from what the local vnodes know now.
    pub(super) fn rebuild(&mut self, ring: &Ring) {
        let mut all: Vec<Vnode> = Vec::new();
        for snap in ring.snapshot() {
            all.push(snap.vnode);
            all.extend(snap.predecessor);
            all.extend(snap.successors);
            all.extend(snap.fingers.into_iter().flatten());
        }
        all.sort_by_key(|v| v.id);
        all.dedup_by(|a, b| a.id == b.id);
        self.vnodes = all;
        self.built = Some(Instant::now());
    }

    /// The first `n` known vnodes at or after `key`, wrapping around.
    pub(super) fn successors(&self, key: &Id, n: usize) -> Vec<Vnode> {
        let len = self.vnodes.len();
        let start = self.vnodes.partition_point(|v| v.id < *key);
        (0..n.min(len))
            .filter_map(|i| self.vnodes.get((start + i) % len))
            .cloned()
            .collect()
    }

    /// The first known vnode at or after `key` (wrapping around): the key's primary as far as
    /// the view knows. Cheaper than [`successors`](Self::successors) when that is all a request
    /// needs (writes and primary reads).
    pub(super) fn primary(&self, key: &Id) -> Option<Vnode> {
        let start = self.vnodes.partition_point(|v| v.id < *key);
        self.vnodes
            .get(start)
            .or_else(|| self.vnodes.first())
            .cloned()
    }

    /// Forgets a vnode that did not answer, until the next rebuild.
    pub(super) fn forget(&mut self, vnode: &Vnode) {
        self.vnodes.retain(|v| v.id != vnode.id);
    }
}
