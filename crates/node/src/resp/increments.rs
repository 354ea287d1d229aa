//! A run of pipelined `INCR`s answered at once: each key's increments in the order they came,
//! different keys concurrently, the replies in request order.
//!
//! Each `INCR` stays its own read-modify-write at the key's primary (sent once, never resent:
//! docs/redis-compat.md), but a pipeline of them no longer waits for one round trip per
//! command. As with pipelined `SET`s (one write per primary, in parallel), increments of
//! *different* keys in one run may land in any order; increments of one key keep theirs, and
//! every command after the run sees them all.

use std::collections::HashMap;

use bytes::Bytes;
use futures::future::join_all;

use super::commands::{from_backend, Command, Session};
use super::Reply;
use crate::backend::Backend;

/// One key's increments, in request order: (position in the run, operation, wording).
type Chain = Vec<(usize, dtable::Modify, super::strings::Answer)>;

/// Answers the pipelined `INCR key` requests `run` (whole argument vectors): one reply each,
/// in order.
pub async fn execute_increments(
    run: Vec<Vec<Bytes>>,
    session: &Session,
    backend: &dyn Backend,
) -> Vec<Reply> {
    let mut replies: Vec<Option<Reply>> = (0..run.len()).map(|_| None).collect();
    let mut chains: Vec<(Bytes, Chain)> = Vec::new();
    let mut chain_of: HashMap<Bytes, usize> = HashMap::new();
    for (at, args) in run.into_iter().enumerate() {
        match Command::parse(args) {
            Ok(Command::Modify { key, op, answer }) => {
                let chain = *chain_of.entry(key.clone()).or_insert_with(|| {
                    chains.push((key, Vec::new()));
                    chains.len() - 1
                });
                if let Some((_, ops)) = chains.get_mut(chain) {
                    ops.push((at, op, answer));
                }
            }
            Ok(other) => {
                replies[at] = Some(Reply::err(format!(
                    "internal error: a grouped INCR parsed as {other:?}"
                )))
            }
            Err(refused) => replies[at] = Some(refused),
        }
    }
    let write = session.write;
    let runs = chains.into_iter().map(|(key, ops)| async move {
        let mut answered = Vec::with_capacity(ops.len());
        for (at, op, answer) in ops {
            let outcome = backend.modify(key.clone(), op, write).await;
            answered.push((at, from_backend(outcome, |done| answer.reply(done))));
        }
        answered
    });
    for (at, reply) in join_all(runs).await.into_iter().flatten() {
        if let Some(slot) = replies.get_mut(at) {
            *slot = Some(reply);
        }
    }
    replies
        .into_iter()
        .map(|reply| reply.unwrap_or_else(|| Reply::err("internal error: an INCR went unanswered")))
        .collect()
}
