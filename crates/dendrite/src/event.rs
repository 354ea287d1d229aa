//! Ring events (the seed's DelegateHook): what changed around a local vnode.
//!
//! Events go out on a bounded broadcast channel. Every subscriber sees every event in the order
//! the ring raised it; a subscriber that falls more than `Config::event_buffer` events behind
//! loses the oldest ones and is told how many on its next receive (`RecvError::Lagged(n)`), so a
//! slow subscriber can never stall stabilization. Lag is per subscriber and reported only to that
//! subscriber: the ring never blocks on, nor waits for, anyone listening.

use crate::vnode::Vnode;

/// Something that changed around one of this node's vnodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingEvent {
    /// `vnode` has a new predecessor that joined between the old one and it.
    PredecessorJoined {
        /// The local vnode.
        vnode: Vnode,
        /// Its previous predecessor, if it had one.
        old: Option<Vnode>,
        /// The new predecessor.
        new: Vnode,
    },
    /// `vnode`'s predecessor left or failed.
    PredecessorLeft {
        /// The local vnode.
        vnode: Vnode,
        /// The predecessor that is gone.
        old: Vnode,
        /// Its replacement, when already known.
        new: Option<Vnode>,
    },
    /// The vnodes that hold replicas of `vnode`'s range changed.
    ReplicasChanged {
        /// The local vnode.
        vnode: Vnode,
        /// Replica holders before.
        old: Vec<Vnode>,
        /// Replica holders now.
        new: Vec<Vnode>,
    },
}

impl RingEvent {
    /// The local vnode the event is about.
    pub fn vnode(&self) -> &Vnode {
        match self {
            RingEvent::PredecessorJoined { vnode, .. }
            | RingEvent::PredecessorLeft { vnode, .. }
            | RingEvent::ReplicasChanged { vnode, .. } => vnode,
        }
    }
}
