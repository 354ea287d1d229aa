//! Stabilization rounds, the shell's half: running the round machine of
//! [`crate::flow::round`] against a vnode's state, the predecessor check, and the hand-over
//! check an application asks before acting as a range's new owner.

use std::sync::{Arc, Weak};
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::time::Instant;
use tracing::{debug, Instrument};

use super::{lock, Ring};
use crate::flow::round::{first_successor, Round, RoundStep};
use crate::message::Message;
use crate::vnode::Vnode;

/// Other nodes remembered for finding the ring again after a partition.
const MAX_KNOWN_HOSTS: usize = 256;

impl Ring {
    /// Spawns one stabilization task per vnode, and the task that probes lost hosts.
    pub(super) fn start(self: &Arc<Self>) {
        let mut tasks = lock(&self.tasks);
        let weak: Weak<Ring> = Arc::downgrade(self);
        let period = self.config.stabilize_max;
        let probe_now = self.probe_now.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Polled in order, not at random: a seeded simulation replays exactly.
                    biased;
                    () = tokio::time::sleep(period) => {}
                    () = probe_now.notified() => {}
                }
                match weak.upgrade() {
                    Some(ring) if !ring.is_stopped() => ring.probe_lost_host().await,
                    _ => return,
                }
            }
        }));
        for (index, nudge) in self.nudges.iter().enumerate() {
            let weak: Weak<Ring> = Arc::downgrade(self);
            let nudge = nudge.clone();
            tasks.push(tokio::spawn(async move {
                let mut next_round = match weak.upgrade() {
                    Some(ring) if !ring.is_stopped() => Instant::now() + ring.jitter(),
                    _ => return,
                };
                loop {
                    let nudged = tokio::select! {
                        // Polled in order, not at random: a seeded simulation replays exactly.
                        biased;
                        () = tokio::time::sleep_until(next_round) => false,
                        () = nudge.notified() => true,
                    };
                    let Some(ring) = weak.upgrade().filter(|r| !r.is_stopped()) else {
                        return;
                    };
                    if nudged {
                        ring.chase_successor(index).await;
                        drop(ring);
                        tokio::time::sleep(super::nudge::NUDGE_GAP).await;
                    } else {
                        ring.stabilize(index).await;
                        next_round = Instant::now() + ring.jitter();
                    }
                }
            }));
        }
    }

    /// Runs one round for local vnode `index`.
    pub(super) async fn stabilize(&self, index: usize) {
        let Some((me, _)) = self.vnodes.get(index) else {
            return;
        };
        let span = tracing::debug_span!("stabilize", vnode = %me);
        let round = Round::new(me.clone(), self.config.num_successors);
        self.run_round(index, round).instrument(span).await;
    }

    /// Tells the first successor of local vnode `index` we might be its predecessor, and takes
    /// its successor list (the notify part of a round, alone).
    pub(super) async fn notify_successor(&self, index: usize) {
        let Some((me, _)) = self.vnodes.get(index) else {
            return;
        };
        let round = Round::notify(me.clone(), self.config.num_successors);
        self.run_round(index, round).await;
    }

    /// Drives `round` for local vnode `index`: lends it the vnode's state at each poll, and
    /// does each step it names as it names it.
    pub(super) async fn run_round(&self, index: usize, mut round: Round) {
        let Some((_, state)) = self.vnodes.get(index) else {
            return;
        };
        loop {
            let step = round.poll(&mut lock(state), self);
            match step {
                RoundStep::RememberHosts { seen } => round.on_hosts(self.remember_hosts(seen)),
                RoundStep::Call { host, message } => {
                    round.on_reply(self.call(&host, &message).await);
                }
                RoundStep::Lookup { start, key, n } => {
                    round.on_lookup(self.lookup_from(start, key, n).await);
                }
                RoundStep::Suspect(vnode) => self.note_suspect(&vnode),
                RoundStep::Disowned(vnode) => self.note_disowned(&vnode),
                RoundStep::Event(event) => self.emit(Some(event)),
                RoundStep::CheckPredecessor => self.check_predecessor(index).await,
                RoundStep::Done => return,
            }
        }
    }

    /// Adds `seen` to the other nodes remembered (at most [`MAX_KNOWN_HOSTS`], the oldest by
    /// name dropped) and draws up to three of them: where an isolated vnode looks for the ring
    /// again. Without this a node cut off for longer than failure detection would stay a ring
    /// of its own after the partition heals.
    fn remember_hosts(&self, seen: Vec<String>) -> Vec<String> {
        let mut known = lock(&self.known_hosts);
        known.extend(seen);
        while known.len() > MAX_KNOWN_HOSTS {
            known.pop_first();
        }
        let all: Vec<String> = known.iter().cloned().collect();
        let mut rng = lock(&self.rng);
        all.choose_multiple(&mut *rng, 3).cloned().collect()
    }

    /// The first successor of vnode `index` (see [`first_successor`]).
    fn first_successor(&self, index: usize) -> Option<Vnode> {
        let (_, state) = self.vnodes.get(index)?;
        first_successor(&mut lock(state), self)
    }

    /// Pings the predecessor (a `GetPredecessor` addressed to it, so that its host must still
    /// run it); one that does not answer twice in a row, while its host answers nothing else
    /// either, or whose host says it runs no such vnode, is forgotten (a predecessor-left
    /// event).
    ///
    /// Twice, because forgetting a live predecessor is not harmless: the vnode then serves the
    /// predecessor's range as its own while the predecessor still does too, until the next
    /// notify, and an application that acts as the range's primary (dtable) briefly has two.
    /// One lost ping or reply must not do that; a dead predecessor fails the second ping as
    /// fast as the first (refused), a paused or cut-off one after one more call timeout.
    async fn check_predecessor(&self, index: usize) {
        let Some((_, state)) = self.vnodes.get(index) else {
            return;
        };
        let Some(pred) = lock(state).predecessor().cloned() else {
            return;
        };
        if *pred.host == *self.local_host() {
            // One of ours answers in place; any other vnode of our host is a ghost of this
            // host's earlier run (a restart with other ids): forgotten at once.
            if !self.vnodes.iter().any(|(v, _)| v.id == pred.id) {
                self.note_disowned(&pred);
            }
            return;
        }
        // Asked of the vnode, not its host: a live host whose node restarted with other vnode
        // ids answers that it runs no such vnode, and that ghost is forgotten at once (a
        // vacancy may be filled with a vnode only listed somewhere, ring/vacancy.rs).
        let ask = Message::GetPredecessor { dest: pred.clone() };
        let asked_at = self.since_start();
        for _ in 0..PREDECESSOR_PINGS {
            match self.call(&pred.host, &ask).await {
                Err(e) if e.is_unreachable() => continue,
                Err(e) if e.is_vnode_gone() => {
                    self.note_disowned(&pred);
                    return;
                }
                _ => return,
            }
        }
        // A ping that timed out was sent a call timeout ago: if the host answered anything
        // since the first ping went out (a partition healed while a ping was lost), the
        // verdict is stale and the predecessor lives (docs/reliability.md, fix 13).
        if self.heard_since(&pred.host, asked_at) {
            debug!(vnode = %pred, "predecessor pings timed out, but its host answered since");
            return;
        }
        self.note_dead(&pred);
    }
}

/// Pings in a row a predecessor must fail to be forgotten (see `check_predecessor`).
const PREDECESSOR_PINGS: usize = 2;

impl Ring {
    /// Does the first successor of local vnode `vnode` name `vnode` as its predecessor? Only
    /// then has the vnode that owned `vnode`'s range before (the successor, until `vnode`
    /// joined or came back) stopped serving it as its own: an application that hands a range's
    /// authority over (dtable) asks this before the new owner acts alone, so that two vnodes
    /// never both act as the range's primary. When the successor does not, the vnode runs the
    /// first half of a stabilization round at once (a closer successor it names is adopted,
    /// then notified) and asks again. A vnode with no successor (alone on the ring) owns its
    /// range unchallenged.
    pub async fn hand_over_confirmed(&self, vnode: &Vnode) -> bool {
        let confirmed = self.ask_hand_over(vnode).await;
        if confirmed {
            lock(&self.handed_over).insert(vnode.id, self.since_start());
        }
        confirmed
    }

    /// Was local vnode `vnode`'s hand-over confirmed (see
    /// [`hand_over_confirmed`](Self::hand_over_confirmed)) within the last `max_age`?
    ///
    /// A vnode confirmed once can be displaced later without hearing of it: a vnode that
    /// joins between it and its successor takes its place as the successor's predecessor, and
    /// the displaced vnode learns of that only at its next stabilization round, while the
    /// newcomer's sibling before it, not knowing the displaced vnode, may take its range (table
    /// simulation, seed 266). An application asks this before an operation that must not run
    /// on two primaries at once (dtable's read-modify-writes), and confirms again when it is
    /// older than `max_age`.
    pub fn hand_over_confirmed_within(&self, vnode: &Vnode, max_age: Duration) -> bool {
        let now = self.since_start();
        lock(&self.handed_over)
            .get(&vnode.id)
            .is_some_and(|at| now.saturating_sub(*at) <= max_age)
    }

    /// [`hand_over_confirmed`](Self::hand_over_confirmed) without noting the answer.
    async fn ask_hand_over(&self, vnode: &Vnode) -> bool {
        let Some(index) = self.vnodes.iter().position(|(v, _)| v.id == vnode.id) else {
            return false;
        };
        for attempt in 0..2 {
            match self.hand_over_answer(index, vnode).await {
                Some(true) => return true,
                Some(false) if attempt == 0 => {
                    let round = Round::successor_check(vnode.clone(), self.config.num_successors);
                    self.run_round(index, round).await;
                }
                _ => return false,
            }
        }
        false
    }

    /// One asking of [`ask_hand_over`](Self::ask_hand_over): `Some(true)` confirmed,
    /// `Some(false)` a vnode named another predecessor (worth a successor check and another
    /// question), `None` no answer.
    ///
    /// A sibling's word covers nothing past it: a successor on this host confirms from its own
    /// state, while this vnode's replicas come from the vnodes of other hosts further down its
    /// list, which may be stale (a restarted node placed by its seed's vnodes; table simulation,
    /// clock seed 594: a round with two replicas that never held the range, then an `INCR` from
    /// nothing; docs/reliability.md, fix 30). So after a sibling, the first vnode of another host
    /// in the list must name the last vnode of this host before it as its predecessor.
    async fn hand_over_answer(&self, index: usize, vnode: &Vnode) -> Option<bool> {
        let Some(succ) = self.first_successor(index) else {
            return Some(true);
        };
        if succ.id == vnode.id {
            return Some(true);
        }
        if !self.names_predecessor(&succ, vnode).await? {
            return Some(false);
        }
        if self.state(&succ).is_none() {
            return Some(true);
        }
        let (_, state) = self.vnodes.get(index)?;
        let list = lock(state).successors().to_vec();
        let Some(at) = list.iter().position(|v| *v.host != *self.local_host()) else {
            // Only this host's vnodes: nobody else to ask.
            return Some(true);
        };
        let before = at.checked_sub(1).and_then(|i| list.get(i)).unwrap_or(vnode);
        self.names_predecessor(list.get(at)?, before).await
    }

    /// Does `succ` name `pred` as its predecessor? `None` when it did not answer.
    async fn names_predecessor(&self, succ: &Vnode, pred: &Vnode) -> Option<bool> {
        let ask = Message::GetPredecessor { dest: succ.clone() };
        match self.call(&succ.host, &ask).await {
            Ok(Message::Vnode(named)) => Some(named.id == pred.id),
            _ => None,
        }
    }
}
