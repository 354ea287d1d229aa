//! Answers incoming frames: ring requests from other vnodes, and extension messages.

use std::sync::Weak;

use bytes::Bytes;
use futures::future::BoxFuture;
use tracing::debug;

use super::nudge::{self, Hint};
use super::{lock, Ring};
use crate::chord::Route;
use crate::message::{CodecError, Message, PROTOCOL_VERSION};
use crate::transport::FrameHandler;
use crate::vnode::Vnode;

/// The frame handler a ring installs on its transport. It holds the ring weakly so a dropped
/// ring is not kept alive by its own transport.
pub(super) struct RingHandler {
    ring: Weak<Ring>,
}

impl RingHandler {
    pub(super) fn new(ring: Weak<Ring>) -> RingHandler {
        RingHandler { ring }
    }
}

impl FrameHandler for RingHandler {
    fn handle(&self, frame: Bytes) -> BoxFuture<'static, Bytes> {
        let ring = self.ring.upgrade();
        Box::pin(async move {
            match ring {
                Some(ring) => ring.handle_frame(frame).await,
                None => Message::error("the ring on this node has shut down").encode(),
            }
        })
    }
}

impl Ring {
    /// Produces the reply frame for one request frame. Never fails: bad frames get an `Err`.
    pub(super) async fn handle_frame(&self, frame: Bytes) -> Bytes {
        let msg = match Message::decode(frame) {
            Ok(m) => m,
            Err(e) => return Message::error(e.to_string()).encode(),
        };
        if let Message::Extension { kind, payload } = msg {
            return match self.extensions.get(kind) {
                Some(handler) => match handler.handle(kind, payload).await {
                    Ok(reply) => reply,
                    Err(e) => Message::error(e.0).encode(),
                },
                None => Message::error(CodecError::UnknownType(kind).to_string()).encode(),
            };
        }
        self.answer(msg).await.encode()
    }

    async fn answer(&self, msg: Message) -> Message {
        match msg {
            Message::Leave {
                source,
                dest,
                successors,
                predecessor,
            } => {
                let Some(state) = self.state(&dest) else {
                    return no_such_vnode(&dest);
                };
                debug!(%source, %dest, "neighbour leaves");
                // As its successor: its predecessor is ours now.
                let left = lock(state).predecessor_left(&source, predecessor.as_ref());
                self.emit(left);
                // As its predecessor (any of our vnodes that lists it): its successors take
                // its place in our lists now, not after stabilization rounds.
                let theirs: Vec<Vnode> = successors
                    .into_iter()
                    .filter(|v| !self.known_dead(v))
                    .collect();
                for (_, state) in &self.vnodes {
                    let replicas = {
                        let mut s = lock(state);
                        s.successor_left(&source, &theirs)
                            .then(|| s.refresh_replicas())
                            .flatten()
                    };
                    self.emit(replicas);
                }
                self.note_dead(&source);
                // It left on purpose: nothing to look for after a partition.
                self.lost_host_found(&source.host, true);
                // If we were the leaver's predecessor our successor changed: tell the new one
                // now so it adopts us without waiting for a stabilization round.
                if let Some(index) = self.vnodes.iter().position(|(v, _)| v.id == dest.id) {
                    self.notify_successor(index).await;
                }
                Message::Ack {
                    version: PROTOCOL_VERSION,
                    ok: true,
                }
            }
            other => self.answer_in_place(other),
        }
    }

    /// Answers every request that needs no call of its own (all but `Leave`).
    pub(super) fn answer_in_place(&self, msg: Message) -> Message {
        match msg {
            Message::Ping { .. } => Message::Ping {
                version: PROTOCOL_VERSION,
            },
            Message::ListVnodes => Message::ListVnodesResp {
                vnodes: self.local_vnodes(),
            },
            Message::FindSuccessors { key, dest, limit } => {
                let Some(state) = self.state(&dest) else {
                    return no_such_vnode(&dest);
                };
                // The peer's limit (up to 2^31-1 on the wire) is clamped by `route` to our
                // num_successors: it never sizes an allocation here.
                let n = limit.map_or(self.config.num_successors, |l| {
                    usize::try_from(l).unwrap_or(usize::MAX)
                });
                match lock(state).route(&key, n) {
                    Route::Successors(vnodes) => Message::ListVnodesResp { vnodes },
                    Route::Forward(vnode) => Message::Forward { vnode },
                }
            }
            Message::GetPredecessor { dest } => {
                let Some(state) = self.state(&dest) else {
                    return no_such_vnode(&dest);
                };
                // No predecessor yet: answer with the vnode itself (docs/wire.md §4).
                let pred = lock(state).predecessor().cloned().unwrap_or(dest);
                Message::Vnode(pred)
            }
            Message::Notify { dest, vnode } => {
                let Some(state) = self.state(&dest) else {
                    return no_such_vnode(&dest);
                };
                let successors = lock(state).successors().to_vec();
                if successors
                    .first()
                    .is_some_and(|succ| vnode.id.is_between(&dest.id, &succ.id))
                {
                    // Not a predecessor candidate: news of a vnode between this one and its
                    // successor (a forwarded notify, ring/nudge.rs). The sender heard from it,
                    // this node did not: nothing to note about its life.
                    self.follow_hint(&dest, Some(Hint::StabilizeNow));
                    return Message::ListVnodesResp { vnodes: successors };
                }
                self.heard_from(&vnode);
                // A vacancy is filled with the nearest live vnode this host knows of, which
                // may be nearer than the notifier (fix 18, ring/vacancy.rs).
                let vacant = lock(state).predecessor().is_none();
                let candidate = if vacant {
                    self.predecessor_for_vacancy(&dest, &vnode)
                } else {
                    vnode.clone()
                };
                let (event, successors, before, after) = {
                    let mut s = lock(state);
                    let before = s.predecessor().cloned();
                    let event = s.notify(&candidate);
                    (
                        event,
                        s.successors().to_vec(),
                        before,
                        s.predecessor().cloned(),
                    )
                };
                self.emit(event);
                let hint = nudge::hint(
                    &dest.id,
                    &vnode,
                    before.as_ref(),
                    after.as_ref(),
                    successors.first(),
                );
                self.follow_hint(&dest, hint);
                Message::ListVnodesResp { vnodes: successors }
            }
            Message::Leave { .. } => Message::error("Leave is not served in place"),
            other => Message::error(format!(
                "message type 0x{:02x} is a reply, not a request",
                other.kind()
            )),
        }
    }
}

/// How an `Err` answer for a vnode this node does not run begins.
pub(super) const NO_SUCH_VNODE: &str = "no vnode ";

fn no_such_vnode(dest: &Vnode) -> Message {
    Message::error(format!("{NO_SUCH_VNODE}{dest} on this node"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;
    use crate::ring::RingError;

    #[test]
    fn our_no_such_vnode_answer_reads_back_as_vnode_gone() {
        let vnode = Vnode::new(Id::of_key(b"gone"), "10.0.0.1:7000");
        let Message::Err { error } = no_such_vnode(&vnode) else {
            panic!("no_such_vnode is not an Err message");
        };
        let gone = RingError::from_err_reply("10.0.0.1:7000", error);
        assert!(gone.is_vnode_gone(), "{gone:?}");
        assert!(matches!(gone, RingError::VnodeGone { .. }));
        // Any other Err answer (a Go peer without a predecessor, say) stays Remote.
        let other = RingError::from_err_reply("10.0.0.1:7000", "no predecessor".into());
        assert!(!other.is_vnode_gone());
        assert!(matches!(other, RingError::Remote { .. }));
    }
}
