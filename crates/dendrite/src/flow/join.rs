//! Joining a ring as a state machine: find a vnode of the ring through the seeds, look every
//! local vnode's successors up through it, then run one stabilization round per vnode so that
//! the successors hear of us at once rather than at the first periodic round.
//!
//! [`Join`] decides; the shell (`Ring::join_with`) asks the seeds, runs the lookups and the
//! rounds, and writes the successor lists into the vnode states, each when the machine names
//! it. A seed that cannot be reached, answers oddly or lists only our own vnodes is passed
//! over for the next; a failed lookup fails the join (the ring is not joined halfway).
//!
//! A node restarted on its address comes back with the same vnode ids, and the ring may still
//! list the earlier run's vnodes: a lookup of our own id can then answer with nothing but
//! those ghosts of ourselves, and successors taken from it alone would close our vnodes into a
//! private ring of their own, with no replicas, that answers for its ranges as if it held
//! them (docs/reliability.md, clock seed 647). So the vnodes of this host are taken from what
//! we know, never from a lookup, and a vnode whose lookup named no other host is placed by
//! the seed's vnodes instead (live: they just answered), which stabilization then refines.

use std::collections::VecDeque;

use tracing::{info, warn};

use crate::id::Id;
use crate::message::Message;
use crate::ring::RingError;
use crate::vnode::Vnode;

/// What the shell does next for a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinStep {
    /// Send `ListVnodes` to `seed`, then feed the outcome to [`Join::on_seed_reply`].
    ListVnodes {
        /// The seed's address.
        seed: String,
    },
    /// Remember the seeds as hosts of the ring (where to find it again after a partition).
    RememberSeeds(Vec<String>),
    /// Look the first `n` successors of `key` up, starting the walk at `start`; then feed the
    /// outcome to [`Join::on_lookup`].
    Lookup {
        /// A vnode of the ring (found through a seed).
        start: Vnode,
        /// The local vnode's id.
        key: Id,
        /// Successors wanted (a whole successor list).
        n: usize,
    },
    /// Local vnode number `index` (by id order) takes `successors` as its successor list and
    /// recomputes its replica set.
    Successors {
        /// Which local vnode.
        index: usize,
        /// Its successors: those looked up, then our other vnodes.
        successors: Vec<Vnode>,
    },
    /// Run one stabilization round of local vnode number `index` now.
    Stabilize(usize),
    /// The join is over: the ring's vnode it went through, or why it failed.
    Done(Result<Vnode, RingError>),
}

/// Where a join stands.
#[derive(Debug)]
enum Phase {
    /// The next seed is asked (or, with none left, the join fails).
    NextSeed,
    /// Waiting for a seed's vnodes.
    SeedAsked(String),
    /// A seed's answer arrived.
    SeedAnswered(String, Result<Message, RingError>),
    /// A vnode of the ring is known: remember the seeds, then look up.
    Found,
    /// Local vnode `index`'s successors are looked up next (or, past the last, the rounds run).
    Lookup(usize),
    /// Waiting for local vnode `index`'s successors.
    LookingUp(usize),
    /// Local vnode `index`'s successors (or the error) arrived.
    LookedUp(usize, Result<Vec<Vnode>, RingError>),
    /// Local vnode `index` runs its round next.
    Stabilize(usize),
    /// Over.
    Done(Result<Vnode, RingError>),
}

/// One node joining a ring through its seeds.
#[derive(Debug)]
pub struct Join {
    host: String,
    seeds: Vec<String>,
    untried: VecDeque<String>,
    local: Vec<Vnode>,
    list_len: usize,
    start: Option<Vnode>,
    /// The vnodes of another node that the seed listed: the fallback successors of a vnode
    /// whose lookup found only this host's vnodes.
    seed_vnodes: Vec<Vnode>,
    phase: Phase,
}

impl Join {
    /// The node at `host` with vnodes `local` (sorted by id) joins through `seeds`, tried in
    /// order; each vnode looks up `list_len` successors.
    pub fn new(host: &str, seeds: &[String], local: Vec<Vnode>, list_len: usize) -> Join {
        Join {
            host: host.to_string(),
            seeds: seeds.to_vec(),
            untried: seeds.iter().cloned().collect(),
            local,
            list_len,
            start: None,
            seed_vnodes: Vec::new(),
            phase: Phase::NextSeed,
        }
    }

    /// The next thing to do. While an answer is awaited, the same question again.
    pub fn poll(&mut self) -> JoinStep {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Found) {
                Phase::NextSeed => match self.untried.pop_front() {
                    Some(seed) => {
                        self.phase = Phase::SeedAsked(seed.clone());
                        return JoinStep::ListVnodes { seed };
                    }
                    None => self.phase = Phase::Done(Err(RingError::NoSeed(self.seeds.clone()))),
                },
                Phase::SeedAsked(seed) => {
                    self.phase = Phase::SeedAsked(seed.clone());
                    return JoinStep::ListVnodes { seed };
                }
                Phase::SeedAnswered(seed, reply) => self.take_seed_reply(&seed, reply),
                Phase::Found => {
                    self.phase = Phase::Lookup(0);
                    return JoinStep::RememberSeeds(self.seeds.clone());
                }
                Phase::Lookup(index) => match (self.local.get(index), &self.start) {
                    (Some(vnode), Some(start)) => {
                        let step = JoinStep::Lookup {
                            start: start.clone(),
                            key: vnode.id,
                            n: self.list_len,
                        };
                        self.phase = Phase::LookingUp(index);
                        return step;
                    }
                    _ => {
                        if let Some(start) = &self.start {
                            info!(host = %self.host, via = %start, "joined the ring");
                        }
                        self.phase = Phase::Stabilize(0);
                    }
                },
                Phase::LookingUp(index) => {
                    self.phase = Phase::Lookup(index);
                }
                Phase::LookedUp(index, result) => match result {
                    Ok(found) => {
                        self.phase = Phase::Lookup(index + 1);
                        let successors = self.successors_from(index, found);
                        return JoinStep::Successors { index, successors };
                    }
                    Err(e) => self.phase = Phase::Done(Err(e)),
                },
                Phase::Stabilize(index) => {
                    if index < self.local.len() {
                        self.phase = Phase::Stabilize(index + 1);
                        return JoinStep::Stabilize(index);
                    }
                    self.phase = Phase::Done(
                        self.start
                            .clone()
                            .ok_or_else(|| RingError::NoSeed(self.seeds.clone())),
                    );
                }
                Phase::Done(result) => {
                    self.phase = Phase::Done(result.clone());
                    return JoinStep::Done(result);
                }
            }
        }
    }

    /// The seed last asked answered `reply` to `ListVnodes` (or its call failed). Ignored
    /// unless a seed's answer is awaited.
    pub fn on_seed_reply(&mut self, reply: Result<Message, RingError>) {
        self.phase = match std::mem::replace(&mut self.phase, Phase::Found) {
            Phase::SeedAsked(seed) => Phase::SeedAnswered(seed, reply),
            other => other,
        };
    }

    /// The lookup last asked for ended with `found` successors (or an error). Ignored unless a
    /// lookup is awaited.
    pub fn on_lookup(&mut self, found: Result<Vec<Vnode>, RingError>) {
        self.phase = match std::mem::replace(&mut self.phase, Phase::Found) {
            Phase::LookingUp(index) => Phase::LookedUp(index, found),
            other => other,
        };
    }

    /// Local vnode `index`'s successor candidates from its lookup's answer: the other hosts'
    /// vnodes it found (or, if it found none, the seed's), then our own vnodes.
    fn successors_from(&self, index: usize, found: Vec<Vnode>) -> Vec<Vnode> {
        let mut remote: Vec<Vnode> = found
            .into_iter()
            .filter(|v| *v.host != *self.host)
            .collect();
        if remote.is_empty() {
            warn!(
                host = %self.host,
                vnode = ?self.local.get(index).map(|v| v.id),
                "the lookup of our vnode found only this host's vnodes (an earlier run's, still \
                 listed by the ring): placing it by the seed's vnodes until stabilization finds \
                 its successors"
            );
            remote = self.seed_vnodes.clone();
        }
        remote.into_iter().chain(self.local.clone()).collect()
    }

    /// A seed's vnodes: the first of another node's is where the join goes through.
    fn take_seed_reply(&mut self, seed: &str, reply: Result<Message, RingError>) {
        self.phase = Phase::NextSeed;
        match reply {
            Ok(Message::ListVnodesResp { vnodes }) => {
                let theirs: Vec<Vnode> = vnodes
                    .into_iter()
                    .filter(|v| *v.host != *self.host)
                    .collect();
                if let Some(v) = theirs.first() {
                    self.start = Some(v.clone());
                    self.seed_vnodes = theirs;
                    self.phase = Phase::Found;
                } else {
                    warn!(%seed, "seed has no vnodes of its own");
                }
            }
            Ok(other) => warn!(%seed, kind = other.kind(), "seed answered oddly"),
            Err(e) => warn!(%seed, error = %e, "seed unreachable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::scripted::{timed_out, vnode};

    fn listed(vnodes: &[&Vnode]) -> Result<Message, RingError> {
        Ok(Message::ListVnodesResp {
            vnodes: vnodes.iter().map(|v| (*v).clone()).collect(),
        })
    }

    fn seeds(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_join_passes_over_failing_seeds_then_places_every_vnode_and_stabilizes_each() {
        let (m1, m2) = (vnode(10, "me"), vnode(130, "me"));
        let (a, b, c) = (vnode(40, "a"), vnode(90, "b"), vnode(200, "c"));
        let all = seeds(&["down", "odd", "mirror", "a"]);
        let mut join = Join::new("me", &all, vec![m1.clone(), m2.clone()], 3);
        let seed = |s: &str| JoinStep::ListVnodes {
            seed: s.to_string(),
        };
        assert_eq!(join.poll(), seed("down"));
        assert_eq!(join.poll(), seed("down"), "asked again until answered");
        join.on_seed_reply(Err(timed_out("down")));
        assert_eq!(join.poll(), seed("odd"));
        join.on_seed_reply(Ok(Message::Vnode(a.clone())));
        assert_eq!(join.poll(), seed("mirror"));
        // A seed that lists only vnodes of this node (its own earlier run) is no way in.
        join.on_seed_reply(listed(&[&m1]));
        assert_eq!(join.poll(), seed("a"));
        join.on_seed_reply(listed(&[&m2, &a]));
        assert_eq!(join.poll(), JoinStep::RememberSeeds(all));
        assert_eq!(
            join.poll(),
            JoinStep::Lookup {
                start: a.clone(),
                key: m1.id,
                n: 3
            }
        );
        join.on_lookup(Ok(vec![a.clone(), b.clone()]));
        assert_eq!(
            join.poll(),
            JoinStep::Successors {
                index: 0,
                successors: vec![a.clone(), b, m1.clone(), m2.clone()],
            }
        );
        assert_eq!(
            join.poll(),
            JoinStep::Lookup {
                start: a.clone(),
                key: m2.id,
                n: 3
            }
        );
        join.on_lookup(Ok(vec![c.clone()]));
        assert_eq!(
            join.poll(),
            JoinStep::Successors {
                index: 1,
                successors: vec![c, m1, m2],
            }
        );
        assert_eq!(join.poll(), JoinStep::Stabilize(0));
        assert_eq!(join.poll(), JoinStep::Stabilize(1));
        assert_eq!(join.poll(), JoinStep::Done(Ok(a.clone())));
        assert_eq!(join.poll(), JoinStep::Done(Ok(a)), "stays over");
    }

    #[test]
    fn a_lookup_that_finds_only_ghosts_of_this_host_places_the_vnode_by_the_seeds_vnodes() {
        // Restarted on its address: the ring still lists our ids (and one of an earlier run with
        // more vnodes). Successors from such an answer alone would be a private ring of ours.
        let (m1, m2, old) = (vnode(10, "me"), vnode(130, "me"), vnode(70, "me"));
        let (a, b) = (vnode(40, "a"), vnode(200, "a"));
        let mut join = Join::new("me", &seeds(&["a"]), vec![m1.clone(), m2.clone()], 3);
        join.poll();
        join.on_seed_reply(listed(&[&a, &m1, &b]));
        assert!(matches!(join.poll(), JoinStep::RememberSeeds(_)));
        assert!(matches!(join.poll(), JoinStep::Lookup { .. }));
        join.on_lookup(Ok(vec![m1.clone(), old, m2.clone()]));
        assert_eq!(
            join.poll(),
            JoinStep::Successors {
                index: 0,
                successors: vec![a.clone(), b.clone(), m1.clone(), m2.clone()],
            }
        );
        // A lookup that found another host keeps its answer, minus this host's vnodes.
        assert!(matches!(join.poll(), JoinStep::Lookup { .. }));
        join.on_lookup(Ok(vec![m2.clone(), b.clone()]));
        assert_eq!(
            join.poll(),
            JoinStep::Successors {
                index: 1,
                successors: vec![b, m1, m2],
            }
        );
    }

    #[test]
    fn a_join_with_no_answering_seed_fails_naming_them_all() {
        let all = seeds(&["x", "y"]);
        let mut join = Join::new("me", &all, vec![vnode(10, "me")], 3);
        join.poll();
        join.on_seed_reply(Err(timed_out("x")));
        join.poll();
        join.on_seed_reply(listed(&[]));
        assert_eq!(join.poll(), JoinStep::Done(Err(RingError::NoSeed(all))));
    }

    #[test]
    fn a_failed_lookup_fails_the_join_before_any_round() {
        let a = vnode(40, "a");
        let mut join = Join::new("me", &seeds(&["a"]), vec![vnode(10, "me")], 3);
        join.poll();
        join.on_seed_reply(listed(&[&a]));
        assert!(matches!(join.poll(), JoinStep::RememberSeeds(_)));
        assert!(matches!(join.poll(), JoinStep::Lookup { .. }));
        // An answer of the wrong kind is ignored.
        join.on_seed_reply(listed(&[&a]));
        assert!(matches!(join.poll(), JoinStep::Lookup { .. }));
        join.on_lookup(Err(RingError::LookupTimeout(a.id)));
        assert_eq!(
            join.poll(),
            JoinStep::Done(Err(RingError::LookupTimeout(a.id)))
        );
    }
}
