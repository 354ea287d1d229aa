//! Noticing that this process was stalled: stopped (SIGSTOP), frozen with its VM, or starved,
//! for longer than the others take to declare it failed.
//!
//! While it was stalled, the others may have dropped its vnodes, moved its ranges to other
//! primaries and taken writes there. When it runs again its ring view is the one it had, so
//! no ring event tells it so: its authority ledger would vouch for copies that are now behind,
//! and a read-modify-write (INCR) would start from a stale value. A ticker notes the monotonic
//! time every [`TICK`]; a gap longer than [`STALL`] means a stall: every round is forgotten, so
//! every local vnode fetches from its replicas again before it answers as owner (the heal loop
//! runs the rounds). Between the resume and the ticker's first look, a request sees the ticker's
//! stale time and is not served as authoritative either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::TableInner;

/// How often the ticker notes the time.
const TICK: Duration = Duration::from_millis(100);

/// A gap between two ticks longer than this is a stall. Shorter than the others' failure
/// detection (so a stall that let them move ranges is always caught); a longer scheduling
/// delay on a loaded machine only costs a round of anti-entropy.
const STALL: Duration = Duration::from_millis(1_000);

/// The ticker's last look, as milliseconds since the watch was made.
pub(super) struct StallWatch {
    since: Instant,
    last_tick: AtomicU64,
    /// Stalls noticed so far: an anti-entropy round that spans one must not vouch for the copy
    /// it pulled before it.
    stalls: AtomicU64,
    /// The ring's rejoin epoch (`Ring::rejoin_epoch`) at the ticker's last look. When the
    /// ring's moves on, this node heard from the far side of a partition again (or finished
    /// merging with it): like a stall, every round is forgotten.
    rejoin_seen: AtomicU64,
}

impl StallWatch {
    pub(super) fn new() -> StallWatch {
        StallWatch {
            since: Instant::now(),
            last_tick: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            rejoin_seen: AtomicU64::new(0),
        }
    }

    /// How many stalls were noticed so far. A round notes it when it starts and completes
    /// only if it has not changed (and no stall is pending): see `TableInner::repair_vnode`.
    pub(super) fn epoch(&self) -> u64 {
        self.stalls.load(Ordering::Acquire)
    }

    fn now_millis(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Is this node's authority in doubt: it was stalled, or it is rejoining after a partition
    /// (`rejoin_epoch` odd), or it began or ended rejoining since the ticker last looked?
    /// Nothing then vouches for its copies until a new round completes.
    pub(super) fn in_doubt(&self, rejoin_epoch: u64) -> bool {
        self.stalled()
            || rejoin_epoch % 2 == 1
            || rejoin_epoch != self.rejoin_seen.load(Ordering::Acquire)
    }

    /// Has the ticker not looked for longer than [`STALL`] (the process just resumed)?
    pub(super) fn stalled(&self) -> bool {
        let last = self.last_tick.load(Ordering::Acquire);
        self.now_millis().saturating_sub(last) > STALL.as_millis() as u64
    }

    /// Notes a tick; returns the gap since the previous one.
    fn tick(&self) -> Duration {
        let now = self.now_millis();
        let last = self.last_tick.swap(now, Ordering::AcqRel);
        Duration::from_millis(now.saturating_sub(last))
    }
}

impl TableInner {
    /// Starts the ticker; it ends with the table.
    pub(super) fn spawn_stall_watch(self: &Arc<Self>) -> JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(inner) = weak.upgrade() else { return };
                // Forget first, then note the tick: a request in between still sees the stall.
                let stalled = inner.stall.stalled();
                let rejoin = inner.ring.rejoin_epoch();
                let rejoined = inner.stall.rejoin_seen.load(Ordering::Acquire) != rejoin;
                if stalled || rejoined {
                    {
                        // Under the ledger's lock, so that a round completing meanwhile
                        // either sees the new epoch or is forgotten here.
                        let mut ledger = inner.ledger.lock();
                        inner.stall.stalls.fetch_add(1, Ordering::AcqRel);
                        ledger.forget_rounds();
                        inner.stall.rejoin_seen.store(rejoin, Ordering::Release);
                    }
                    let gap = inner.stall.tick();
                    if stalled {
                        tracing::warn!(
                            ?gap,
                            "this node was stalled: its ranges may have moved meanwhile; every \
                             vnode synchronises with its replicas before it answers as owner \
                             again"
                        );
                    } else {
                        tracing::info!(
                            rejoining = rejoin % 2 == 1,
                            "back in touch after a partition: every vnode synchronises with \
                             its replicas before it answers as owner again"
                        );
                    }
                    inner.heal.notify_one();
                } else {
                    inner.stall.tick();
                }
            }
        })
    }
}
