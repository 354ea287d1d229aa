//! Iterative lookup: ask a vnode, follow its `Forward`s, stop at a successor list.
//!
//! The caller drives every hop itself (the Go original's design), so a dead vnode on the path
//! is seen by the caller, who steps around it: it goes back to the last vnode that answered,
//! takes that vnode's successor list, and continues from the live successor closest to the key.

use std::collections::BTreeSet;

use super::{lock, Ring, RingError};
use crate::chord::{live_successors, Route};
use crate::id::Id;
use crate::message::Message;
use crate::vnode::Vnode;

impl Ring {
    /// Finds the first `n` successors of `key`, starting the walk at `start` (local or remote).
    pub(super) async fn lookup_from(
        &self,
        start: Vnode,
        key: Id,
        n: usize,
    ) -> Result<Vec<Vnode>, RingError> {
        let mut stats = LookupStats::default();
        self.lookup_counted(start, key, n, &mut stats).await
    }

    /// [`lookup_from`](Self::lookup_from), counting hops and failed calls into `stats`.
    pub(super) async fn lookup_counted(
        &self,
        start: Vnode,
        key: Id,
        n: usize,
        stats: &mut LookupStats,
    ) -> Result<Vec<Vnode>, RingError> {
        let deadline = self.config.lookup_timeout;
        match tokio::time::timeout(deadline, self.walk(start, key, n, stats)).await {
            Ok(result) => result,
            Err(_) => Err(RingError::LookupTimeout(key)),
        }
    }

    async fn walk(
        &self,
        start: Vnode,
        key: Id,
        n: usize,
        stats: &mut LookupStats,
    ) -> Result<Vec<Vnode>, RingError> {
        // Dead on this walk, or found dead by this node before (a vnode that has not noticed
        // yet may still list it first).
        let mut dead: BTreeSet<Id> = BTreeSet::new();
        let mut current = start;
        let mut previous: Option<Vnode> = None;
        let hops = self.config.max_lookup_hops;
        for _ in 0..hops {
            if self.state(&current).is_none() {
                stats.hops += 1;
            }
            match self.ask(&current, &key, n).await {
                Ok(Route::Successors(found)) => {
                    let listed = !found.is_empty();
                    let mut live =
                        live_successors(found, |v| dead.contains(&v.id) || self.known_dead(v));
                    if !live.is_empty() {
                        // A peer may answer with more than asked for: never pass that on.
                        live.truncate(n.max(1));
                        return Ok(live);
                    }
                    if !listed {
                        return Err(RingError::NoSuccessors(current));
                    }
                    // Every vnode it named is dead: go on along its full successor list.
                    match self.detour(&current, &key, n, &dead).await? {
                        Detour::Done(found) => return Ok(found),
                        Detour::Continue(next) => {
                            previous = Some(std::mem::replace(&mut current, next));
                        }
                    }
                }
                Ok(Route::Forward(next))
                    if !dead.contains(&next.id)
                        && !self.known_dead(&next)
                        && next.id != current.id =>
                {
                    previous = Some(std::mem::replace(&mut current, next));
                }
                Ok(Route::Forward(_)) => {
                    // Pointed at a vnode we know is dead: walk along `current`'s successors.
                    match self.detour(&current, &key, n, &dead).await? {
                        Detour::Done(found) => return Ok(found),
                        Detour::Continue(next) => {
                            previous = Some(std::mem::replace(&mut current, next));
                        }
                    }
                }
                Err(e) => {
                    stats.failed_calls += 1;
                    dead.insert(current.id);
                    if e.is_unreachable() {
                        self.note_suspect(&current);
                    }
                    let Some(back) = previous.take() else {
                        return Err(e);
                    };
                    match self.detour(&back, &key, n, &dead).await? {
                        Detour::Done(found) => return Ok(found),
                        Detour::Continue(next) => {
                            current = next;
                            previous = Some(back);
                        }
                    }
                }
            }
        }
        Err(RingError::TooManyHops { key, hops })
    }

    /// Asks `via` for its successor list and picks where the lookup goes on without the dead.
    async fn detour(
        &self,
        via: &Vnode,
        key: &Id,
        n: usize,
        dead: &BTreeSet<Id>,
    ) -> Result<Detour, RingError> {
        let just_after = via.id.add_pow2(0);
        let listed = match self
            .ask(via, &just_after, self.config.num_successors)
            .await?
        {
            Route::Successors(list) => list,
            Route::Forward(_) => Vec::new(),
        };
        let live = live_successors(listed, |v| {
            dead.contains(&v.id) || v.id == via.id || self.known_dead(v)
        });
        let Some(first) = live.first() else {
            return Err(RingError::NoSuccessors(via.clone()));
        };
        if key.is_between_right_incl(&via.id, &first.id) {
            return Ok(Detour::Done(live.into_iter().take(n.max(1)).collect()));
        }
        // The live successor closest before the key (or the last we know) carries on.
        let next = live
            .iter()
            .rfind(|v| v.id.is_between(&via.id, key))
            .or(live.last())
            .cloned()
            .ok_or_else(|| RingError::NoSuccessors(via.clone()))?;
        Ok(Detour::Continue(next))
    }

    /// One lookup step at `vnode`: answered in place for local vnodes, by a call otherwise.
    /// `vnode`'s own successor list, itself first (up to `n` in all), by asking it about its own
    /// id: the copies of its range as their owner sees them, where a lookup answers from the
    /// key's predecessor, whose list may lag. `None` while `vnode` knows no predecessor (it
    /// then forwards instead of answering).
    pub async fn successors_of(
        &self,
        vnode: &Vnode,
        n: usize,
    ) -> Result<Option<Vec<Vnode>>, RingError> {
        match self.ask(vnode, &vnode.id, n).await? {
            Route::Successors(mut list) => {
                list.truncate(n.max(1));
                Ok(list
                    .first()
                    .is_some_and(|first| first.id == vnode.id)
                    .then_some(list))
            }
            Route::Forward(_) => Ok(None),
        }
    }

    async fn ask(&self, vnode: &Vnode, key: &Id, n: usize) -> Result<Route, RingError> {
        if let Some(state) = self.state(vnode) {
            return Ok(lock(state).route(key, n));
        }
        let msg = Message::FindSuccessors {
            key: *key,
            dest: vnode.clone(),
            limit: Some(u32::try_from(n).unwrap_or(u32::MAX)),
        };
        match self.call(&vnode.host, &msg).await? {
            Message::ListVnodesResp { vnodes } => Ok(Route::Successors(vnodes)),
            Message::Forward { vnode: next } => Ok(Route::Forward(next)),
            other => Err(RingError::UnexpectedReply {
                host: vnode.host.to_string(),
                kind: other.kind(),
            }),
        }
    }
}

/// What one lookup cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Remote vnodes asked (the path length of the Chord paper; local steps are free).
    pub hops: usize,
    /// Calls that failed (timed out or refused) on the way.
    pub failed_calls: usize,
}

enum Detour {
    Done(Vec<Vnode>),
    Continue(Vnode),
}
