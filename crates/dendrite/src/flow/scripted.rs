//! What the flows' unit tests drive them with: a node that is only a list of local vnodes and
//! a dead set, vnodes at chosen ring positions, and the errors calls end with.

use std::collections::BTreeSet;
use std::time::Duration;

use super::RingView;
use crate::id::Id;
use crate::ring::RingError;
use crate::transport::TransportError;
use crate::vnode::Vnode;

/// A node as a flow sees it, with nothing behind it.
#[derive(Debug, Default)]
pub(crate) struct ScriptedRing {
    pub(crate) local: Vec<Vnode>,
    pub(crate) dead: BTreeSet<Id>,
}

impl ScriptedRing {
    /// A node running `local`, that knows of no dead vnode.
    pub(crate) fn running(local: &[&Vnode]) -> ScriptedRing {
        ScriptedRing {
            local: local.iter().map(|v| (*v).clone()).collect(),
            dead: BTreeSet::new(),
        }
    }

    /// A node of no local vnode that found `dead` dead.
    pub(crate) fn mourning(dead: &[&Vnode]) -> ScriptedRing {
        ScriptedRing {
            local: Vec::new(),
            dead: dead.iter().map(|v| v.id).collect(),
        }
    }
}

impl RingView for ScriptedRing {
    fn is_local(&self, vnode: &Vnode) -> bool {
        self.local.iter().any(|v| v.id == vnode.id)
    }

    fn is_known_dead(&self, vnode: &Vnode) -> bool {
        self.dead.contains(&vnode.id)
    }

    fn local_vnodes(&self) -> Vec<Vnode> {
        self.local.clone()
    }
}

/// A vnode of `host` at ring position `top` × 2^152 (so `vnode(1, ..)` < `vnode(2, ..)`).
pub(crate) fn vnode(top: u8, host: &str) -> Vnode {
    let mut bytes = [0u8; 20];
    bytes[0] = top;
    Vnode::new(Id::new(bytes), host)
}

/// The ring position `top` × 2^152.
pub(crate) fn at(top: u8) -> Id {
    let mut bytes = [0u8; 20];
    bytes[0] = top;
    Id::new(bytes)
}

/// A call to `host` that timed out.
pub(crate) fn timed_out(host: &str) -> RingError {
    RingError::Transport(TransportError::Timeout {
        host: host.to_string(),
        timeout: Duration::from_secs(1),
    })
}

/// `host` answered with an error message (alive, but said no).
pub(crate) fn refused(host: &str) -> RingError {
    RingError::Remote {
        host: host.to_string(),
        error: "no".to_string(),
    }
}
