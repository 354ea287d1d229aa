//! The iterative lookup walk as a state machine: ask a vnode, follow its `Forward`s, stop at a
//! successor list.
//!
//! The caller drives every hop itself (the Go original's design), so a dead vnode on the path
//! is seen by the caller, who steps around it: it goes back to the last vnode that answered,
//! takes that vnode's successor list, and continues from the live successor closest to the key.
//!
//! [`LookupWalk`] makes those decisions and nothing else: [`LookupWalk::poll`] says which vnode
//! to ask next (or that a vnode went unanswered, or that the walk is over), and
//! [`LookupWalk::on_answer`] takes that vnode's [`Route`] or the error its call ended with.
//! Asking (in place for a local vnode, by a call otherwise) and the walk's deadline are the
//! shell's (`Ring::lookup_from`).

use std::collections::BTreeSet;

use super::RingView;
use crate::chord::{live_successors, Route};
use crate::id::Id;
use crate::ring::RingError;
use crate::vnode::Vnode;

/// What one lookup cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Remote vnodes asked (the path length of the Chord paper; local steps are free).
    pub hops: usize,
    /// Calls that failed (timed out or refused) on the way.
    pub failed_calls: usize,
}

/// One question of a walk: "where does `key` go from you, `vnode`? I want `n` successors".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The vnode to ask (local or remote).
    pub vnode: Vnode,
    /// The ring position asked about (the looked-up key, or just after `vnode` on a detour).
    pub key: Id,
    /// Successors wanted.
    pub n: usize,
}

/// What the shell does next for a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ask this, then feed the outcome to [`LookupWalk::on_answer`].
    Ask(Ask),
    /// This vnode's call went unreachable: route around it everywhere (`Ring::note_suspect`),
    /// then poll again.
    Suspect(Vnode),
    /// The walk is over: the key's successors, or why there are none.
    Done(Result<Vec<Vnode>, RingError>),
}

/// Where a walk stands.
#[derive(Debug)]
enum Phase {
    /// `current` is asked next.
    Walk,
    /// Waiting for `current`'s route.
    Waiting,
    /// `current`'s route (or error) arrived.
    Answered(Result<Route, RingError>),
    /// `via`'s successor list is asked next, to step around dead vnodes.
    Detour(Vnode),
    /// Waiting for `via`'s successor list.
    DetourWaiting(Vnode),
    /// `via`'s successor list (or error) arrived.
    DetourAnswered(Vnode, Result<Route, RingError>),
    /// Over.
    Done(Result<Vec<Vnode>, RingError>),
}

/// One iterative lookup of a key's successors.
#[derive(Debug)]
pub struct LookupWalk {
    key: Id,
    n: usize,
    max_hops: usize,
    list_len: usize,
    /// Vnodes dead on this walk (the node's own dead set is asked through [`RingView`]).
    dead: BTreeSet<Id>,
    current: Vnode,
    previous: Option<Vnode>,
    asked: usize,
    stats: LookupStats,
    phase: Phase,
}

impl LookupWalk {
    /// A walk for the first `n` successors of `key`, starting at `start`, that gives up after
    /// `max_hops` vnodes asked; a detour asks for `list_len` successors (a whole successor
    /// list).
    pub fn new(start: Vnode, key: Id, n: usize, max_hops: usize, list_len: usize) -> LookupWalk {
        LookupWalk {
            key,
            n,
            max_hops,
            list_len,
            dead: BTreeSet::new(),
            current: start,
            previous: None,
            asked: 0,
            stats: LookupStats::default(),
            phase: Phase::Walk,
        }
    }

    /// What the walk has cost so far (up to date after every [`poll`](Self::poll)).
    pub fn stats(&self) -> LookupStats {
        self.stats
    }

    /// The next thing to do. While an answer is awaited, the same [`Step::Ask`] again.
    pub fn poll(&mut self, ring: &impl RingView) -> Step {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Waiting) {
                Phase::Walk => {
                    if self.asked >= self.max_hops {
                        self.phase = Phase::Done(Err(RingError::TooManyHops {
                            key: self.key,
                            hops: self.max_hops,
                        }));
                        continue;
                    }
                    self.asked += 1;
                    if !ring.is_local(&self.current) {
                        self.stats.hops += 1;
                    }
                    return Step::Ask(self.walk_ask());
                }
                Phase::Waiting => return Step::Ask(self.walk_ask()),
                Phase::Answered(answer) => {
                    if let Some(step) = self.follow(answer, ring) {
                        return step;
                    }
                }
                Phase::Detour(via) => {
                    let ask = self.detour_ask(&via);
                    self.phase = Phase::DetourWaiting(via);
                    return Step::Ask(ask);
                }
                Phase::DetourWaiting(via) => {
                    let ask = self.detour_ask(&via);
                    self.phase = Phase::DetourWaiting(via);
                    return Step::Ask(ask);
                }
                Phase::DetourAnswered(via, answer) => self.step_around(via, answer, ring),
                Phase::Done(result) => {
                    self.phase = Phase::Done(result.clone());
                    return Step::Done(result);
                }
            }
        }
    }

    /// The route (or error) of the vnode last asked. Ignored unless an answer is awaited.
    pub fn on_answer(&mut self, answer: Result<Route, RingError>) {
        self.phase = match std::mem::replace(&mut self.phase, Phase::Waiting) {
            Phase::Waiting => Phase::Answered(answer),
            Phase::DetourWaiting(via) => Phase::DetourAnswered(via, answer),
            other => other,
        };
    }

    fn walk_ask(&self) -> Ask {
        Ask {
            vnode: self.current.clone(),
            key: self.key,
            n: self.n,
        }
    }

    fn detour_ask(&self, via: &Vnode) -> Ask {
        Ask {
            vnode: via.clone(),
            key: via.id.add_pow2(0),
            n: self.list_len,
        }
    }

    /// Takes `current`'s answer: the walk ends, moves on, or detours; a step to hand out first
    /// when `current` went unreachable.
    fn follow(&mut self, answer: Result<Route, RingError>, ring: &impl RingView) -> Option<Step> {
        match answer {
            Ok(Route::Successors(found)) => {
                let listed = !found.is_empty();
                let mut live = live_successors(found, |v| {
                    self.dead.contains(&v.id) || ring.is_known_dead(v)
                });
                self.phase = if !live.is_empty() {
                    // A peer may answer with more than asked for: never pass that on.
                    live.truncate(self.n.max(1));
                    Phase::Done(Ok(live))
                } else if !listed {
                    Phase::Done(Err(RingError::NoSuccessors(self.current.clone())))
                } else {
                    // Every vnode it named is dead: go on along its full successor list.
                    Phase::Detour(self.current.clone())
                };
                None
            }
            Ok(Route::Forward(next))
                if !self.dead.contains(&next.id)
                    && !ring.is_known_dead(&next)
                    && next.id != self.current.id =>
            {
                self.previous = Some(std::mem::replace(&mut self.current, next));
                self.phase = Phase::Walk;
                None
            }
            Ok(Route::Forward(_)) => {
                // Pointed at a vnode we know is dead: walk along `current`'s successors.
                self.phase = Phase::Detour(self.current.clone());
                None
            }
            Err(e) => {
                self.stats.failed_calls += 1;
                self.dead.insert(self.current.id);
                let unreachable = e.is_unreachable();
                self.phase = match self.previous.take() {
                    Some(back) => Phase::Detour(back),
                    None => Phase::Done(Err(e)),
                };
                unreachable.then(|| Step::Suspect(self.current.clone()))
            }
        }
    }

    /// Takes `via`'s successor list and picks where the walk goes on without the dead.
    fn step_around(&mut self, via: Vnode, answer: Result<Route, RingError>, ring: &impl RingView) {
        let listed = match answer {
            Ok(Route::Successors(list)) => list,
            Ok(Route::Forward(_)) => Vec::new(),
            Err(e) => {
                self.phase = Phase::Done(Err(e));
                return;
            }
        };
        let live = live_successors(listed, |v| {
            self.dead.contains(&v.id) || v.id == via.id || ring.is_known_dead(v)
        });
        let Some(first) = live.first() else {
            self.phase = Phase::Done(Err(RingError::NoSuccessors(via)));
            return;
        };
        if self.key.is_between_right_incl(&via.id, &first.id) {
            self.phase = Phase::Done(Ok(live.into_iter().take(self.n.max(1)).collect()));
            return;
        }
        // The live successor closest before the key (or the last we know) carries on.
        let next = live
            .iter()
            .rfind(|v| v.id.is_between(&via.id, &self.key))
            .or(live.last())
            .unwrap_or(first)
            .clone();
        self.current = next;
        self.previous = Some(via);
        self.phase = Phase::Walk;
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
