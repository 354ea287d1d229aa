//! How much of the ring this node reaches: whether it may be on the small side of a partition,
//! and whether it is *rejoining* — back in touch with the far side but not yet merged with it
//! (docs/design.md, "Partitions"). An application asks before it trusts its own copies: the
//! small side's anti-entropy rounds vouch only for what that side saw.

use std::sync::atomic::Ordering;

use super::{lock, Ring};
use crate::lost_hosts::{LostHosts, Reach};

impl Ring {
    /// How many hosts this node has seen on the ring, and how many of them it cannot reach
    /// now: what an application asks before an operation that must not run on the minority
    /// side of a partition (dtable's read-modify-writes).
    pub fn reach(&self) -> Reach {
        self.reach_with(&lock(&self.lost_hosts))
    }

    /// [`reach`](Ring::reach)`().in_minority()`, without counting the hosts seen while no lost
    /// host is unreachable (the usual case): cheap enough to ask on every read.
    pub fn in_minority(&self) -> bool {
        let lost = lock(&self.lost_hosts);
        lost.unreachable() > 0 && self.reach_with(&lost).in_minority()
    }

    /// Is this node rejoining: it was on the small side of a partition (it reached at most
    /// half of the hosts it had seen), has heard from the far side again, and has not yet
    /// merged its ring with the far side's? Its copies may lack writes the far side took
    /// meanwhile, though it no longer looks cut off. Lock-free: asked on every read.
    pub fn rejoining(&self) -> bool {
        self.rejoin_epoch() % 2 == 1
    }

    /// Moves by one when rejoining begins and again when it ends: an application that
    /// vouched for its copies under one value (dtable's anti-entropy rounds) vouches for
    /// nothing once it moved.
    pub fn rejoin_epoch(&self) -> u64 {
        self.rejoin_epoch.load(Ordering::Acquire)
    }

    /// A call to lost host `host` succeeded: reachable again.
    pub(super) fn lost_host_answered(&self, host: &str) {
        let mut lost = lock(&self.lost_hosts);
        if !lost.contains(host) {
            return;
        }
        let seen = self.reach_with(&lost).seen;
        lost.answered(host, self.since_start(), seen);
        self.publish_rejoin(&lost);
        // Due at once: probe now rather than at the next tick, so the rings merge (and a
        // rejoining node trusts its copies again) as soon as the partition heals.
        self.probe_now.notify_one();
    }

    /// Lost host `host` answered a probe (or left on purpose): no longer lost. When `merged`,
    /// nothing is left to merge through it.
    pub(super) fn lost_host_found(&self, host: &str, merged: bool) {
        let mut lost = lock(&self.lost_hosts);
        if !lost.contains(host) {
            return;
        }
        let seen = self.reach_with(&lost).seen;
        lost.found(host, seen);
        if merged {
            lost.merged();
        }
        self.publish_rejoin(&lost);
    }

    /// A probe's merge is done (or it went unanswered): rejoining may end. While it has not,
    /// the next due host is probed at once rather than at the next tick.
    pub(super) fn lost_hosts_merged(&self) {
        let mut lost = lock(&self.lost_hosts);
        lost.merged();
        self.publish_rejoin(&lost);
        if lost.rejoining() {
            self.probe_now.notify_one();
        }
    }

    fn publish_rejoin(&self, lost: &LostHosts) {
        let epoch = lost.rejoin_epoch();
        if self.rejoin_epoch.swap(epoch, Ordering::AcqRel) != epoch {
            if lost.rejoining() {
                tracing::info!(
                    "heard from the far side of a partition again: this node's copies vouch \
                     for nothing until its ring has merged with the far side's"
                );
            } else {
                tracing::info!("merged with the far side after a partition");
            }
        }
    }

    /// [`reach`](Ring::reach) with the lost-host list already locked.
    fn reach_with(&self, lost: &LostHosts) -> Reach {
        let local = self.local_host();
        let mut seen = lock(&self.known_hosts)
            .iter()
            .filter(|h| h.as_str() != local && !lost.contains(h))
            .count();
        seen += lost.len() + 1;
        Reach {
            seen,
            unreachable: lost.unreachable(),
        }
    }
}
