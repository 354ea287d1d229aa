//! Nudges: stabilization at once, where a notify shows that a vnode's successor is out of
//! date, instead of at its next periodic round (1-3 s away by default).
//!
//! Chord repairs lazily: when a vnode `Y` joins (or comes back) between `X` and its successor
//! `S`, `S` takes `Y` for predecessor, and `X` learns of `Y` only when its own round next asks
//! `S`. Meanwhile `X`'s predecessor side is right but its successor is not, and a vnode that
//! notifies `Y` from further back (it does not know `X` either) is taken for `Y`'s predecessor:
//! `Y` then believes it owns `X`'s range too, and an application acting on ownership (dtable)
//! has two primaries for it (table simulation, clock seed 136; docs/reliability.md, fix 29).
//! So the vnode that sees the evidence passes it on, in messages every peer already speaks:
//!
//! - `S`, displacing predecessor `X` by `Y`, forwards `Y`'s notify to `X`;
//! - a vnode notified by `C` while its predecessor `P` lies between `C` and itself forwards
//!   a notify from `P` to `C` (`C`'s successor skips `P`);
//! - a vnode notified by one that lies between itself and its first successor (a forwarded
//!   notify, as above) stabilizes at once: it asks its successor for its predecessor, and goes
//!   on asking while that moves its successor ([`MAX_CHASE`] times at most), then notifies.
//!
//! A forwarded notify is an ordinary `Notify` to its receiver: a Go peer applies Chord's
//! predecessor rule to it (the named vnode is alive, the sender just heard from it) and learns
//! nothing else. Nudges of one vnode are at least [`NUDGE_GAP`] apart, so no exchange of hints
//! between two vnodes that disagree can turn into a storm.

use std::time::Duration;

use crate::id::Id;
use crate::message::Message;
use crate::vnode::Vnode;

use super::Ring;
use crate::flow::round::Round;

/// Most successor checks one nudge runs: enough to walk past a few vnodes that came back at
/// once, few enough to bound the traffic of a nudge.
pub(super) const MAX_CHASE: usize = 4;

/// Shortest time between two nudged checks of one vnode.
pub(super) const NUDGE_GAP: Duration = Duration::from_millis(250);

/// What a notify shows beyond Chord's predecessor rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hint {
    /// The notified vnode's successor is out of date: it stabilizes now.
    StabilizeNow,
    /// Tell `dest` (by a notify from `about`) that `about` lies between it and its successor.
    Tell { dest: Vnode, about: Vnode },
}

/// The hint, if any, in a notify of `me` by `notifier`, given `me`'s predecessor before and
/// after the notify and its first successor.
pub(crate) fn hint(
    me: &Id,
    notifier: &Vnode,
    before: Option<&Vnode>,
    after: Option<&Vnode>,
    first_successor: Option<&Vnode>,
) -> Option<Hint> {
    if notifier.id == *me {
        return None;
    }
    let adopted = after.is_some_and(|p| p.id != before.map_or(*me, |b| b.id));
    if adopted {
        // A displaced predecessor learns of the vnode that displaced it.
        let (old, new) = (before?, after?);
        return (old.id != new.id).then(|| Hint::Tell {
            dest: old.clone(),
            about: new.clone(),
        });
    }
    let ahead = match first_successor {
        Some(succ) => notifier.id.is_between(me, &succ.id),
        None => true,
    };
    if ahead {
        return Some(Hint::StabilizeNow);
    }
    match after {
        // The notifier's successor skips our predecessor.
        Some(pred) if pred.id != notifier.id && pred.id.is_between(&notifier.id, me) => {
            Some(Hint::Tell {
                dest: notifier.clone(),
                about: pred.clone(),
            })
        }
        _ => None,
    }
}

impl Ring {
    /// Acts on a notify's hint: a local vnode is nudged in place, a remote one gets the
    /// forwarded notify (sent in the background: the reply to the notify does not wait).
    pub(super) fn follow_hint(&self, me: &Vnode, hint: Option<Hint>) {
        match hint {
            None => {}
            Some(Hint::StabilizeNow) => self.nudge(&me.id),
            Some(Hint::Tell { dest, about }) => {
                if self.state(&dest).is_some() {
                    self.nudge(&dest.id);
                    return;
                }
                if *dest.host == *self.local_host() || self.known_dead(&dest) {
                    return;
                }
                let frame = Message::Notify {
                    dest: dest.clone(),
                    vnode: about,
                }
                .encode();
                let transport = self.transport.clone();
                let timeout = self.config.rpc_timeout;
                tokio::spawn(async move {
                    // A hint: a lost one costs only the wait for the periodic round.
                    let _ = transport.call(&dest.host, frame, timeout).await;
                });
            }
        }
    }

    /// Wakes local vnode `id`'s stabilization task for a nudged check.
    fn nudge(&self, id: &Id) {
        if let Some(index) = self.vnodes.iter().position(|(v, _)| v.id == *id) {
            if let Some(nudge) = self.nudges.get(index) {
                nudge.notify_one();
            }
        }
    }

    /// A nudged check of local vnode `index`: successor checks while they move its successor.
    pub(super) async fn chase_successor(&self, index: usize) {
        let Some((me, state)) = self.vnodes.get(index) else {
            return;
        };
        let span = tracing::debug_span!("nudged", vnode = %me);
        for _ in 0..MAX_CHASE {
            let before = super::lock(state).successors().first().map(|v| v.id);
            let round = Round::successor_check(me.clone(), self.config.num_successors);
            tracing::Instrument::instrument(self.run_round(index, round), span.clone()).await;
            let after = super::lock(state).successors().first().map(|v| v.id);
            if after == before {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(top: u8) -> Id {
        Id::at_top_byte(top)
    }

    fn vnode(top: u8) -> Vnode {
        Vnode::new(id(top), format!("h{top}:1").as_str())
    }

    #[test]
    fn a_displaced_predecessor_is_told_of_the_vnode_that_displaced_it() {
        let (x, y, s) = (vnode(0x10), vnode(0x20), id(0x30));
        assert_eq!(
            hint(&s, &y, Some(&x), Some(&y), None),
            Some(Hint::Tell { dest: x, about: y })
        );
    }

    #[test]
    fn a_first_predecessor_is_no_news_to_anyone() {
        let (y, s) = (vnode(0x20), id(0x30));
        assert_eq!(hint(&s, &y, None, Some(&y), Some(&vnode(0x40))), None);
    }

    #[test]
    fn a_notifier_ahead_of_the_successor_makes_the_vnode_stabilize_now() {
        let (x, y, s) = (id(0x10), vnode(0x20), vnode(0x30));
        let pred = vnode(0x05);
        assert_eq!(
            hint(&x, &y, Some(&pred), Some(&pred), Some(&s)),
            Some(Hint::StabilizeNow)
        );
        // Without a successor, anyone is ahead.
        assert_eq!(
            hint(&x, &y, Some(&pred), Some(&pred), None),
            Some(Hint::StabilizeNow)
        );
    }

    #[test]
    fn a_notifier_whose_successor_skips_our_predecessor_is_told_of_it() {
        let (c, p, v) = (vnode(0x10), vnode(0x20), id(0x30));
        let succ = vnode(0x40);
        assert_eq!(
            hint(&v, &c, Some(&p), Some(&p), Some(&succ)),
            Some(Hint::Tell { dest: c, about: p })
        );
    }

    #[test]
    fn the_usual_notify_by_the_predecessor_hints_nothing() {
        let (p, v, succ) = (vnode(0x20), id(0x30), vnode(0x40));
        assert_eq!(hint(&v, &p, Some(&p), Some(&p), Some(&succ)), None);
        // Nor a notify by oneself.
        assert_eq!(
            hint(&v, &vnode(0x30), Some(&p), Some(&p), Some(&succ)),
            None
        );
    }
}
