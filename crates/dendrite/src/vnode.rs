//! Virtual nodes: the points a physical node occupies on the ring.

use std::fmt;
use std::sync::Arc;

use crate::id::Id;

/// A virtual node: a ring position and the `host:port` of the node that serves it.
///
/// The host is the node's name on the ring (docs/wire.md §2). It is reference counted, so cloning a
/// `Vnode` (which successor lists and finger tables do constantly) never copies the string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vnode {
    /// Position on the ring.
    pub id: Id,
    /// Address (`host:port`) of the node running this vnode.
    pub host: Arc<str>,
}

impl Vnode {
    /// A vnode at `id` served by `host`.
    pub fn new(id: Id, host: impl Into<Arc<str>>) -> Vnode {
        Vnode {
            id,
            host: host.into(),
        }
    }

    /// Vnode number `index` of the node at `host`, with its id computed as docs/wire.md §2 says.
    ///
    /// ```
    /// use dendrite::{Id, Vnode};
    /// let v = Vnode::local("127.0.0.1:5000", 1);
    /// assert_eq!(v.id, Id::of_vnode("127.0.0.1:5000", 1));
    /// ```
    pub fn local(host: &str, index: u16) -> Vnode {
        Vnode::new(Id::of_vnode(host, index), host)
    }
}

impl fmt::Debug for Vnode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id.short(), self.host)
    }
}

impl fmt::Display for Vnode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id.short(), self.host)
    }
}
