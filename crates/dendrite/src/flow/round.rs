//! One stabilization round of a vnode as a state machine (Chord §4.3, with successor lists as
//! in §5.3 of the SIGCOMM paper): find the ring again if isolated, check for a new successor,
//! notify it, fix one finger, check the predecessor.
//!
//! [`Round`] decides, and changes the vnode's [`VnodeState`] that the shell lends it at each
//! [`Round::poll`] (under the vnode's lock, never held across a call). Everything else is a
//! [`RoundStep`] the shell does: a call, a lookup, forgetting a vnode everywhere, publishing an
//! event. The predecessor check is one opaque step (`Ring::check_predecessor`): the shell runs
//! it whole, so its rules can change without touching the round.
//!
//! A part of a round runs on its own too: the successor check with the notify (what
//! `Ring::hand_over_confirmed` runs again before a hand-over), and the notify alone (after a
//! neighbour left).

use std::collections::VecDeque;

use tracing::{debug, warn};

use super::RingView;
use crate::chord::VnodeState;
use crate::event::RingEvent;
use crate::id::Id;
use crate::message::Message;
use crate::ring::RingError;
use crate::vnode::Vnode;

/// What the shell does next for a round.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundStep {
    /// Add `seen` (other hosts on our successor list) to the hosts this node remembers, then
    /// draw up to three of all remembered at random and feed them to [`Round::on_hosts`]: the
    /// hosts an isolated vnode tries to find the ring through.
    RememberHosts {
        /// Hosts of the vnode's successors that are not this node.
        seen: Vec<String>,
    },
    /// Send `message` to `host`, then feed the outcome to [`Round::on_reply`].
    Call {
        /// Where to.
        host: String,
        /// What.
        message: Message,
    },
    /// Look the first `n` successors of `key` up, starting at `start`; then feed the outcome
    /// to [`Round::on_lookup`].
    Lookup {
        /// Where the walk starts.
        start: Vnode,
        /// The position looked up.
        key: Id,
        /// Successors wanted.
        n: usize,
    },
    /// A call to this vnode went unanswered: route around it (`Ring::note_suspect`).
    Suspect(Vnode),
    /// This vnode's host answered that it runs no such vnode: gone for sure, as predecessor
    /// too, and remembered so while its host answers other calls (`Ring::note_disowned`).
    Disowned(Vnode),
    /// Publish this event.
    Event(RingEvent),
    /// Run the predecessor check (`Ring::check_predecessor`), then poll again.
    CheckPredecessor,
    /// The round is over.
    Done,
}

/// The parts of a round, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Rejoin,
    NewSuccessor,
    Notify,
    Finger,
    Predecessor,
}

/// Where a round stands. The `…ing` phases wait for an answer.
#[derive(Debug)]
enum Phase {
    /// Is the vnode isolated? Remember the hosts it sees.
    Rejoin,
    /// Waiting for the hosts drawn.
    DrawingHosts { seen: Vec<String>, isolated: bool },
    /// An isolated vnode asks the next host drawn for its vnodes.
    TryHost(VecDeque<String>),
    /// Waiting for `host`'s vnodes.
    Listing {
        host: String,
        rest: VecDeque<String>,
    },
    /// Waiting for the vnode's successors, looked up through `host`'s ring.
    LookingUp {
        host: String,
        start: Vnode,
        rest: VecDeque<String>,
    },
    /// Ask the first live successor for its predecessor (`tries` successors failed so far).
    NewSuccessor { tries: usize },
    /// Waiting for `succ`'s predecessor.
    AskingPredecessor { succ: Vnode, tries: usize },
    /// Notify the first successor.
    Notify,
    /// Waiting for `succ`'s answer to the notify (its successor list).
    Notifying { succ: Vnode },
    /// Look the next finger up.
    Finger,
    /// Waiting for the successor of finger `finger`'s `start`.
    FixingFinger { finger: usize, start: Id },
    /// Hand the predecessor check to the shell.
    Predecessor,
    /// Over.
    Done,
}

/// An answer the shell fed in, kept until the next poll acts on it.
#[derive(Debug)]
enum Answer {
    Hosts(Vec<String>),
    Reply(Result<Message, RingError>),
    Lookup(Result<Vec<Vnode>, RingError>),
}

/// One stabilization round (or part of one) of one vnode.
#[derive(Debug)]
pub struct Round {
    me: Vnode,
    list_len: usize,
    last: Part,
    phase: Phase,
    answer: Option<Answer>,
}

impl Round {
    /// A whole round of vnode `me`, whose successor lists hold `list_len` vnodes.
    pub fn new(me: Vnode, list_len: usize) -> Round {
        Round::parts(me, list_len, Part::Rejoin, Part::Predecessor)
    }

    /// The successor check and the notify only.
    pub fn successor_check(me: Vnode, list_len: usize) -> Round {
        Round::parts(me, list_len, Part::NewSuccessor, Part::Notify)
    }

    /// The notify only.
    pub fn notify(me: Vnode, list_len: usize) -> Round {
        Round::parts(me, list_len, Part::Notify, Part::Notify)
    }

    fn parts(me: Vnode, list_len: usize, first: Part, last: Part) -> Round {
        Round {
            me,
            list_len,
            last,
            phase: Round::beginning(first),
            answer: None,
        }
    }

    fn beginning(part: Part) -> Phase {
        match part {
            Part::Rejoin => Phase::Rejoin,
            Part::NewSuccessor => Phase::NewSuccessor { tries: 0 },
            Part::Notify => Phase::Notify,
            Part::Finger => Phase::Finger,
            Part::Predecessor => Phase::Predecessor,
        }
    }

    /// The phase after `part` is over.
    fn after(&self, part: Part) -> Phase {
        let next = match part {
            _ if part >= self.last => return Phase::Done,
            Part::Rejoin => Part::NewSuccessor,
            Part::NewSuccessor => Part::Notify,
            Part::Notify => Part::Finger,
            Part::Finger | Part::Predecessor => Part::Predecessor,
        };
        Round::beginning(next)
    }

    /// The hosts drawn for [`RoundStep::RememberHosts`].
    pub fn on_hosts(&mut self, hosts: Vec<String>) {
        if matches!(self.phase, Phase::DrawingHosts { .. }) {
            self.answer = Some(Answer::Hosts(hosts));
        }
    }

    /// The outcome of the [`RoundStep::Call`] last handed out.
    pub fn on_reply(&mut self, reply: Result<Message, RingError>) {
        if matches!(
            self.phase,
            Phase::Listing { .. } | Phase::AskingPredecessor { .. } | Phase::Notifying { .. }
        ) {
            self.answer = Some(Answer::Reply(reply));
        }
    }

    /// The outcome of the [`RoundStep::Lookup`] last handed out.
    pub fn on_lookup(&mut self, found: Result<Vec<Vnode>, RingError>) {
        if matches!(
            self.phase,
            Phase::LookingUp { .. } | Phase::FixingFinger { .. }
        ) {
            self.answer = Some(Answer::Lookup(found));
        }
    }

    /// The next thing to do, with the vnode's state lent for the decisions (and changes) due
    /// now. While an answer is awaited, the same question again.
    pub fn poll(&mut self, state: &mut VnodeState, ring: &impl RingView) -> RoundStep {
        loop {
            let answer = self.answer.take();
            let phase = std::mem::replace(&mut self.phase, Phase::Done);
            if let Some(step) = self.advance(phase, answer, state, ring) {
                return step;
            }
        }
    }

    /// One move from `phase`: sets the next phase, and returns the step for the shell if the
    /// move needs one.
    fn advance(
        &mut self,
        phase: Phase,
        answer: Option<Answer>,
        state: &mut VnodeState,
        ring: &impl RingView,
    ) -> Option<RoundStep> {
        match (phase, answer) {
            (Phase::Rejoin, _) => {
                let seen: Vec<String> = state
                    .successors()
                    .iter()
                    .filter(|v| *v.host != *self.me.host)
                    .map(|v| v.host.to_string())
                    .collect();
                let isolated = seen.is_empty();
                self.phase = Phase::DrawingHosts {
                    seen: seen.clone(),
                    isolated,
                };
                Some(RoundStep::RememberHosts { seen })
            }
            (Phase::DrawingHosts { isolated, .. }, Some(Answer::Hosts(drawn))) => {
                self.phase = if !isolated || drawn.is_empty() {
                    self.after(Part::Rejoin)
                } else {
                    Phase::TryHost(drawn.into())
                };
                None
            }
            (Phase::TryHost(mut rest), _) => match rest.pop_front() {
                Some(host) => {
                    self.phase = Phase::Listing {
                        host: host.clone(),
                        rest,
                    };
                    Some(list_vnodes(host))
                }
                None => {
                    self.phase = self.after(Part::Rejoin);
                    None
                }
            },
            (Phase::Listing { host, rest }, Some(Answer::Reply(reply))) => {
                let start = match reply {
                    Ok(Message::ListVnodesResp { vnodes }) => {
                        vnodes.into_iter().find(|v| *v.host != *self.me.host)
                    }
                    _ => None,
                };
                let Some(start) = start else {
                    self.phase = Phase::TryHost(rest);
                    return None;
                };
                let step = self.rejoin_lookup(&start);
                self.phase = Phase::LookingUp { host, start, rest };
                Some(step)
            }
            (Phase::LookingUp { host, rest, .. }, Some(Answer::Lookup(found))) => {
                let Ok(found) = found else {
                    self.phase = Phase::TryHost(rest);
                    return None;
                };
                let current = state.successors().to_vec();
                state.set_successors(found.into_iter().chain(current));
                debug!(vnode = %self.me, via = %host, "found the ring again");
                self.phase = self.after(Part::Rejoin);
                None
            }
            (Phase::NewSuccessor { tries }, _) => {
                if tries > self.list_len {
                    self.phase = self.after(Part::NewSuccessor);
                    return None;
                }
                let Some(succ) = first_successor(state, ring) else {
                    warn!(vnode = %self.me, "no live successor left; waiting for a notify");
                    self.phase = self.after(Part::NewSuccessor);
                    return None;
                };
                let step = get_predecessor(&succ);
                self.phase = Phase::AskingPredecessor { succ, tries };
                Some(step)
            }
            (Phase::AskingPredecessor { succ, tries }, Some(Answer::Reply(reply))) => {
                self.take_predecessor(succ, tries, reply, state)
            }
            (Phase::Notify, _) => {
                let Some(succ) = state.successors().first().cloned() else {
                    self.phase = self.after(Part::Notify);
                    return None;
                };
                let step = RoundStep::Call {
                    host: succ.host.to_string(),
                    message: Message::Notify {
                        dest: succ.clone(),
                        vnode: self.me.clone(),
                    },
                };
                self.phase = Phase::Notifying { succ };
                Some(step)
            }
            (Phase::Notifying { succ }, Some(Answer::Reply(reply))) => {
                self.phase = self.after(Part::Notify);
                match reply {
                    Ok(Message::ListVnodesResp { vnodes }) => {
                        // Only merge if the successor did not change meanwhile.
                        if state.successors().first().map(|v| v.id) == Some(succ.id) {
                            state.merge_successor_list(&succ, &vnodes);
                        }
                        state.refresh_replicas().map(RoundStep::Event)
                    }
                    Err(e) if e.is_vnode_gone() => Some(RoundStep::Disowned(succ)),
                    Ok(_) | Err(RingError::Remote { .. }) => None,
                    Err(_) => Some(RoundStep::Suspect(succ)),
                }
            }
            (Phase::Finger, _) => {
                let (finger, start) = state.next_finger();
                self.phase = Phase::FixingFinger { finger, start };
                Some(self.finger_lookup(start))
            }
            (Phase::FixingFinger { finger, .. }, Some(Answer::Lookup(found))) => {
                match found {
                    Ok(found) => {
                        if let Some(target) = found.into_iter().next() {
                            state.set_finger(finger, target);
                        }
                    }
                    Err(e) => debug!(vnode = %self.me, finger, error = %e, "finger lookup failed"),
                }
                self.phase = self.after(Part::Finger);
                None
            }
            (Phase::Predecessor, _) => {
                self.phase = self.after(Part::Predecessor);
                Some(RoundStep::CheckPredecessor)
            }
            (Phase::Done, _) => Some(RoundStep::Done),
            // Still waiting: the same question again.
            (waiting, _) => {
                let step = self.question(&waiting);
                self.phase = waiting;
                step
            }
        }
    }

    /// `succ` answered (or not) who its predecessor is: one between us and it is our new
    /// successor; an unreachable one is dropped and the next live successor asked.
    fn take_predecessor(
        &mut self,
        succ: Vnode,
        tries: usize,
        reply: Result<Message, RingError>,
        state: &mut VnodeState,
    ) -> Option<RoundStep> {
        self.phase = self.after(Part::NewSuccessor);
        match reply {
            Ok(Message::Vnode(pred)) => {
                let event = if state.consider_successor(&pred) {
                    debug!(vnode = %self.me, successor = %pred, "new successor");
                    None
                } else if pred.id != self.me.id && pred.id != succ.id {
                    // Our successor's predecessor precedes us: it is ours too if we have
                    // none or ours is further away (`notify` takes it only then), at least
                    // until someone closer notifies. A joining vnode learns its range at
                    // once this way instead of waiting for its predecessor's next round;
                    // and one that took the first vnode to notify it (a sibling on its own
                    // node, answered in place) learns that a live vnode sits between: it
                    // no longer believes it owns that vnode's range too (table simulation
                    // seeds 15, 764 and 1120: two primaries of one range right after a
                    // restart; docs/reliability.md, fix 16).
                    // A successor without a predecessor names itself (docs/wire.md §4):
                    // that says nothing about our range, and taking it for our
                    // predecessor would make us believe we own almost the whole ring.
                    state.notify(&pred)
                } else {
                    None
                };
                event.map(RoundStep::Event)
            }
            // A Go peer without a predecessor answers Err: it is alive, nothing to learn.
            Err(RingError::Remote { .. }) | Ok(_) => None,
            Err(e) => {
                debug!(vnode = %self.me, successor = %succ, error = %e, "successor unreachable");
                self.phase = Phase::NewSuccessor { tries: tries + 1 };
                if e.is_vnode_gone() {
                    // Its host answered that it runs no such vnode (it restarted with new
                    // ones, or the vnode left): gone for sure, as predecessor too. A ping of
                    // the host would still succeed, so the predecessor check could not tell.
                    Some(RoundStep::Disowned(succ))
                } else {
                    Some(RoundStep::Suspect(succ))
                }
            }
        }
    }

    /// The question a waiting phase is waiting on.
    fn question(&self, waiting: &Phase) -> Option<RoundStep> {
        match waiting {
            Phase::DrawingHosts { seen, .. } => {
                Some(RoundStep::RememberHosts { seen: seen.clone() })
            }
            Phase::Listing { host, .. } => Some(list_vnodes(host.clone())),
            Phase::LookingUp { start, .. } => Some(self.rejoin_lookup(start)),
            Phase::AskingPredecessor { succ, .. } => Some(get_predecessor(succ)),
            Phase::Notifying { succ } => Some(RoundStep::Call {
                host: succ.host.to_string(),
                message: Message::Notify {
                    dest: succ.clone(),
                    vnode: self.me.clone(),
                },
            }),
            Phase::FixingFinger { start, .. } => Some(self.finger_lookup(*start)),
            _ => None,
        }
    }

    fn rejoin_lookup(&self, start: &Vnode) -> RoundStep {
        RoundStep::Lookup {
            start: start.clone(),
            key: self.me.id,
            n: self.list_len,
        }
    }

    fn finger_lookup(&self, start: Id) -> RoundStep {
        RoundStep::Lookup {
            start: self.me.clone(),
            key: start,
            n: 1,
        }
    }
}

fn list_vnodes(host: String) -> RoundStep {
    RoundStep::Call {
        host,
        message: Message::ListVnodes,
    }
}

fn get_predecessor(succ: &Vnode) -> RoundStep {
    RoundStep::Call {
        host: succ.host.to_string(),
        message: Message::GetPredecessor { dest: succ.clone() },
    }
}

/// The vnode's first successor; when its list ran dry, the closest of its fingers, this
/// node's other vnodes and its predecessor (which then make up its list), so that a vnode
/// never stays cut off.
///
/// The predecessor is Chord's rule for a lone node: its successor is itself, whose
/// predecessor lies between it and itself, so it becomes the successor at the next
/// stabilization. Without it the creator of a ring of one-vnode nodes, which has no sibling
/// to start its list, learnt of the joiners only as predecessors and never had a successor.
pub fn first_successor(state: &mut VnodeState, ring: &impl RingView) -> Option<Vnode> {
    if let Some(first) = state.successors().first() {
        return Some(first.clone());
    }
    let me = state.me().id;
    let fallback: Vec<Vnode> = state
        .fingers()
        .iter()
        .flatten()
        .cloned()
        .chain(ring.local_vnodes())
        .chain(state.predecessor().cloned())
        .filter(|v| v.id != me)
        .collect();
    state.set_successors(fallback);
    state.successors().first().cloned()
}

#[cfg(test)]
#[path = "round_tests.rs"]
mod tests;
