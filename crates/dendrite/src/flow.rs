//! Chord's protocol flows as state machines: inputs in, actions out, no I/O and no runtime.
//!
//! [`crate::chord::VnodeState`] answers one question at a time (where does a lookup go next,
//! should a notifier become the predecessor); a protocol flow is a sequence of such questions
//! with a remote call between each two. Written as `async` code, a flow can only be tested
//! under a runtime with a network, fake or not. Here each flow is a plain struct instead, in
//! the shape of quinn-proto's connection and foca's member list: the shell in [`crate::ring`]
//! asks it what to do next (`poll`), does that (a call, a lookup, forgetting a vnode,
//! publishing an event), and feeds the outcome back (`on_reply`, `on_answer`, ...). Unit tests
//! feed scripted answers, timeouts and errors straight in.
//!
//! - [`lookup`]: the iterative lookup walk, with its detours around dead vnodes;
//! - [`join`]: finding the ring through seeds and every local vnode's place on it;
//! - [`round`]: one stabilization round of a vnode.
//!
//! The machines decide; the shell owns everything shared (vnode states behind their locks, the
//! dead set, the random number generator) and does every effect at the moment the machine
//! names it, so a flow makes the same calls and the same state changes in the same order as
//! the `async` code it replaced (the simulator's CSVs prove it byte for byte).

pub mod join;
pub mod lookup;
pub mod round;

use crate::vnode::Vnode;

/// What a flow may ask of the node it runs on, between two steps: the shell ([`crate::Ring`])
/// answers from its shared state, a test from a script.
pub trait RingView {
    /// Is `vnode` one of this node's vnodes (answered in place, not over the network)?
    fn is_local(&self, vnode: &Vnode) -> bool;
    /// Has this node found `vnode` dead recently (a lookup steps around it)?
    fn is_known_dead(&self, vnode: &Vnode) -> bool;
    /// This node's vnodes, sorted by id.
    fn local_vnodes(&self) -> Vec<Vnode>;
}

#[cfg(test)]
pub(crate) mod scripted;
