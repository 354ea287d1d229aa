//! The vnodes a node found dead, remembered for a while (see [`DeadVnodes`]).

use crate::id::Id;
use crate::vnode::Vnode;

/// Vnodes this node found dead (a call to them failed, or they left), remembered for a while so
/// that lookups skip them even when another vnode, which has not noticed yet, still lists them.
///
/// Plain state without a clock: the caller passes the time (`now`, since any fixed start) to
/// every method. An entry ends when its host answers a call again
/// ([`host_answered`](Self::host_answered)), when the vnode itself talks to us
/// ([`alive`](Self::alive)), or `ttl` after it was noted: by then stabilization has removed it
/// from the successor lists that held it. At most `capacity` vnodes are kept (the oldest go).
#[derive(Debug, Clone)]
pub struct DeadVnodes {
    ttl: std::time::Duration,
    capacity: usize,
    /// Id → (host, when noted).
    noted: std::collections::BTreeMap<Id, (std::sync::Arc<str>, std::time::Duration)>,
}

impl DeadVnodes {
    /// An empty set whose entries last `ttl`, holding at most `capacity` (at least 1) vnodes.
    pub fn new(ttl: std::time::Duration, capacity: usize) -> DeadVnodes {
        DeadVnodes {
            ttl,
            capacity: capacity.max(1),
            noted: std::collections::BTreeMap::new(),
        }
    }

    /// `vnode` did not answer (or left) at `now`.
    pub fn note(&mut self, vnode: &Vnode, now: std::time::Duration) {
        self.noted.insert(vnode.id, (vnode.host.clone(), now));
        while self.noted.len() > self.capacity {
            let oldest = self
                .noted
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.noted.remove(&id),
                None => break,
            };
        }
    }

    /// Is `vnode` known dead at `now`?
    pub fn is_dead(&self, vnode: &Vnode, now: std::time::Duration) -> bool {
        self.noted
            .get(&vnode.id)
            .is_some_and(|(_, at)| now.saturating_sub(*at) < self.ttl)
    }

    /// `vnode` talked to us: it is alive.
    pub fn alive(&mut self, vnode: &Vnode) {
        self.noted.remove(&vnode.id);
    }

    /// A call to `host` succeeded: its vnodes are alive. Also drops expired entries.
    pub fn host_answered(&mut self, host: &str, now: std::time::Duration) {
        let ttl = self.ttl;
        self.noted
            .retain(|_, (h, at)| &**h != host && now.saturating_sub(*at) < ttl);
    }

    /// Is nothing noted? (Lets hot paths skip the set.)
    pub fn is_empty(&self) -> bool {
        self.noted.is_empty()
    }
}
