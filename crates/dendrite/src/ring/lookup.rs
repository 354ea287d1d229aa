//! Iterative lookup, the shell's half: asking vnodes (in place or by a call) for the walk in
//! [`crate::flow::lookup`], which decides where to go, under the lookup's deadline.

use super::{lock, Ring, RingError};
use crate::chord::Route;
use crate::flow::lookup::{LookupStats, LookupWalk, Step};
use crate::flow::RingView;
use crate::id::Id;
use crate::message::Message;
use crate::vnode::Vnode;

impl Ring {
    /// Finds the first `n` successors of `key`, starting the walk at `start` (local or remote).
    pub(super) async fn lookup_from(
        &self,
        start: Vnode,
        key: Id,
        n: usize,
    ) -> Result<Vec<Vnode>, RingError> {
        let mut stats = LookupStats::default();
        self.lookup_counted(start, key, n, &mut stats).await
    }

    /// [`lookup_from`](Self::lookup_from), counting hops and failed calls into `stats`.
    pub(super) async fn lookup_counted(
        &self,
        start: Vnode,
        key: Id,
        n: usize,
        stats: &mut LookupStats,
    ) -> Result<Vec<Vnode>, RingError> {
        let deadline = self.config.lookup_timeout;
        match tokio::time::timeout(deadline, self.walk(start, key, n, stats)).await {
            Ok(result) => result,
            Err(_) => Err(RingError::LookupTimeout(key)),
        }
    }

    /// Drives a [`LookupWalk`]: asks what it names, feeds back the answers, routes around the
    /// vnodes it found unreachable. `stats` is kept current at every call, so a walk cut off by
    /// its deadline still counts what it cost.
    async fn walk(
        &self,
        start: Vnode,
        key: Id,
        n: usize,
        stats: &mut LookupStats,
    ) -> Result<Vec<Vnode>, RingError> {
        let before = *stats;
        let mut walk = LookupWalk::new(
            start,
            key,
            n,
            self.config.max_lookup_hops,
            self.config.num_successors,
        );
        loop {
            let step = walk.poll(self);
            let cost = walk.stats();
            stats.hops = before.hops + cost.hops;
            stats.failed_calls = before.failed_calls + cost.failed_calls;
            match step {
                Step::Ask(ask) => {
                    let answer = self.ask(&ask.vnode, &ask.key, ask.n).await;
                    walk.on_answer(answer);
                }
                Step::Suspect(vnode) => self.note_suspect(&vnode),
                Step::Done(result) => return result,
            }
        }
    }

    /// One lookup step at `vnode`: answered in place for local vnodes, by a call otherwise.
    /// `vnode`'s own successor list, itself first (up to `n` in all), by asking it about its own
    /// id: the copies of its range as their owner sees them, where a lookup answers from the
    /// key's predecessor, whose list may lag. `None` while `vnode` knows no predecessor (it
    /// then forwards instead of answering).
    pub async fn successors_of(
        &self,
        vnode: &Vnode,
        n: usize,
    ) -> Result<Option<Vec<Vnode>>, RingError> {
        match self.ask(vnode, &vnode.id, n).await? {
            Route::Successors(mut list) => {
                list.truncate(n.max(1));
                Ok(list
                    .first()
                    .is_some_and(|first| first.id == vnode.id)
                    .then_some(list))
            }
            Route::Forward(_) => Ok(None),
        }
    }

    async fn ask(&self, vnode: &Vnode, key: &Id, n: usize) -> Result<Route, RingError> {
        if let Some(state) = self.state(vnode) {
            return Ok(lock(state).route(key, n));
        }
        let msg = Message::FindSuccessors {
            key: *key,
            dest: vnode.clone(),
            limit: Some(u32::try_from(n).unwrap_or(u32::MAX)),
        };
        match self.call(&vnode.host, &msg).await? {
            Message::ListVnodesResp { vnodes } => Ok(Route::Successors(vnodes)),
            Message::Forward { vnode: next } => Ok(Route::Forward(next)),
            other => Err(RingError::UnexpectedReply {
                host: vnode.host.to_string(),
                kind: other.kind(),
            }),
        }
    }
}

impl RingView for Ring {
    fn is_local(&self, vnode: &Vnode) -> bool {
        self.state(vnode).is_some()
    }

    fn is_known_dead(&self, vnode: &Vnode) -> bool {
        self.known_dead(vnode)
    }

    fn local_vnodes(&self) -> Vec<Vnode> {
        Ring::local_vnodes(self)
    }
}
