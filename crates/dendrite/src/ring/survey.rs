//! Every vnode of a ring, seen from outside it: a walk along successor lists that a node can
//! make before it joins (an application may choose its vnode ids from it, as dtable does to
//! balance ownership).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Ring, RingError};
use crate::config::Config;
use crate::id::Id;
use crate::message::Message;
use crate::transport::Transport;
use crate::vnode::Vnode;

/// Most vnodes one survey asks (two calls each).
const MAX_SURVEY_CALLS: usize = 8192;

impl Ring {
    /// The vnodes of the ring that `seeds` (tried in order) belong to, sorted by id: every
    /// vnode found is asked for its own successor list (`FindSuccessors` of its own id) and its
    /// predecessor, until no new vnode turns up; vnodes that do not answer are left out, this
    /// node's own (from before a restart) are kept without asking. Needs only a transport: the node need
    /// not have joined. A ring changing meanwhile may give a list that is slightly off; it is
    /// a picture, not a membership protocol.
    pub async fn survey(
        transport: &Arc<dyn Transport>,
        seeds: &[String],
        config: &Config,
    ) -> Result<Vec<Vnode>, RingError> {
        let call = |host: String, message: Message| {
            let transport = transport.clone();
            let timeout = config.rpc_timeout;
            async move {
                let reply = transport.call(&host, message.encode(), timeout).await?;
                match Message::decode(reply) {
                    Ok(Message::Err { error }) => Err(RingError::from_err_reply(host, error)),
                    Ok(answer) => Ok(answer),
                    Err(error) => Err(RingError::BadReply { host, error }),
                }
            }
        };
        let mut start = None;
        for seed in seeds {
            match call(seed.clone(), Message::ListVnodes).await {
                Ok(Message::ListVnodesResp { vnodes }) if !vnodes.is_empty() => {
                    start = Some(vnodes);
                    break;
                }
                Ok(_) | Err(_) => continue,
            }
        }
        let Some(seed_vnodes) = start else {
            return Err(RingError::NoSeed(seeds.to_vec()));
        };
        let mut found: BTreeMap<Id, Vnode> =
            seed_vnodes.into_iter().map(|v| (v.id, v.clone())).collect();
        let limit = Some(u32::try_from(config.num_successors.max(1)).unwrap_or(u32::MAX));
        let me = transport.local_host().to_string();
        // Vnodes that did not answer, or whose host no longer runs them: left out.
        let mut dead: BTreeSet<Id> = BTreeSet::new();
        let mut asked: BTreeSet<Id> = BTreeSet::new();
        // Every vnode found is asked for its successor list and its predecessor (successor
        // lists lag a join by a stabilization round, predecessors do not), until no new one
        // turns up. Our own vnodes from before a restart are listed, never asked.
        while let Some(vnode) = found
            .values()
            .find(|v| !asked.contains(&v.id) && *v.host != *me)
            .cloned()
        {
            asked.insert(vnode.id);
            if asked.len() > MAX_SURVEY_CALLS {
                break;
            }
            let host = vnode.host.to_string();
            let successors = Message::FindSuccessors {
                key: vnode.id,
                dest: vnode.clone(),
                limit,
            };
            match call(host.clone(), successors).await {
                Ok(Message::ListVnodesResp { vnodes }) => {
                    for listed in vnodes {
                        found.entry(listed.id).or_insert(listed);
                    }
                }
                Ok(Message::Forward { vnode: next }) => {
                    found.entry(next.id).or_insert(next);
                }
                Err(error)
                    if error.is_vnode_gone() || !matches!(error, RingError::Remote { .. }) =>
                {
                    dead.insert(vnode.id);
                    continue;
                }
                Ok(_) | Err(_) => {}
            }
            let predecessor = Message::GetPredecessor {
                dest: vnode.clone(),
            };
            // A Go peer without a predecessor answers Err: alive, nothing to learn.
            if let Ok(Message::Vnode(listed)) = call(host, predecessor).await {
                found.entry(listed.id).or_insert(listed);
            }
        }
        found.retain(|id, _| !dead.contains(id));
        Ok(found.into_values().collect())
    }
}
