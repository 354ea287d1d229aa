//! Redis Cluster on the ring: the `CLUSTER` commands, `READONLY`/`READWRITE`/`ASKING`, and the
//! `MOVED`/`CROSSSLOT` answers cluster clients get (docs/redis-compat.md, *Cluster*).
//!
//! Slots and their owners come from the backend's [`SlotMap`]; a backend without a ring (the
//! front ends' tests) is one node owning every slot, reached at the connection's local address.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use dtable::Slot;

use super::commands::{not_an_integer, parse_integer, Command};
use super::session::Session;
use super::spec;
use super::Reply;
use crate::backend::{Backend, Consistency};
use crate::slot_map::{ClusterNode, SlotMap, SlotRange};

/// A parsed `CLUSTER` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCommand {
    /// `CLUSTER SLOTS`
    Slots,
    /// `CLUSTER SHARDS`
    Shards,
    /// `CLUSTER NODES`
    Nodes,
    /// `CLUSTER MYID`
    MyId,
    /// `CLUSTER MYSHARDID`
    MyShardId,
    /// `CLUSTER INFO`
    Info,
    /// `CLUSTER KEYSLOT key`
    KeySlot(Bytes),
    /// `CLUSTER COUNTKEYSINSLOT slot`
    CountKeysInSlot(Slot),
    /// `CLUSTER GETKEYSINSLOT slot count`
    GetKeysInSlot(Slot, usize),
    /// `CLUSTER HELP`
    Help,
}

/// Redis Cluster subcommands that assign slots, nodes or roles: Dendrite decides those from
/// the ring, so they are refused with [`managed_by_the_ring`].
const RING_MANAGED: &[&str] = &[
    "addslots",
    "addslotsrange",
    "bumpepoch",
    "count-failure-reports",
    "delslots",
    "delslotsrange",
    "failover",
    "flushslots",
    "forget",
    "links",
    "meet",
    "replicas",
    "replicate",
    "reset",
    "saveconfig",
    "set-config-epoch",
    "setslot",
    "slaves",
];

/// Is `sub` a Redis Cluster subcommand that Dendrite leaves to the ring?
pub fn is_ring_managed(sub: &[u8]) -> bool {
    RING_MANAGED
        .iter()
        .any(|name| sub.eq_ignore_ascii_case(name.as_bytes()))
}

/// The answer to a subcommand that would assign slots or nodes by hand.
pub fn managed_by_the_ring(sub: &[u8]) -> Reply {
    let sub: String = String::from_utf8_lossy(sub)
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_uppercase();
    Reply::err(format!(
        "CLUSTER {sub} is not supported: Dendrite manages slots itself (each slot belongs to \
         the ring's vnode that succeeds it, and moves when nodes join or leave); add or stop \
         nodes instead"
    ))
}

/// Parses the operands of `CLUSTER <name>` (arity already checked).
pub fn parse(name: &str, mut operands: impl Iterator<Item = Bytes>) -> Result<Command, Reply> {
    let mut next = || operands.next().unwrap_or_default();
    let command = match name {
        "cluster|slots" => ClusterCommand::Slots,
        "cluster|shards" => ClusterCommand::Shards,
        "cluster|nodes" => ClusterCommand::Nodes,
        "cluster|myid" => ClusterCommand::MyId,
        "cluster|myshardid" => ClusterCommand::MyShardId,
        "cluster|info" => ClusterCommand::Info,
        "cluster|help" => ClusterCommand::Help,
        "cluster|keyslot" => ClusterCommand::KeySlot(next()),
        "cluster|countkeysinslot" => {
            let slot = parse_integer(&next()).ok_or_else(not_an_integer)?;
            ClusterCommand::CountKeysInSlot(
                Slot::new(slot).map_err(|_| Reply::err("Invalid slot"))?,
            )
        }
        "cluster|getkeysinslot" => {
            let slot = parse_integer(&next()).ok_or_else(not_an_integer)?;
            let count = parse_integer(&next()).ok_or_else(not_an_integer)?;
            let invalid = || Reply::err("Invalid slot or number of keys");
            let slot = Slot::new(slot).map_err(|_| invalid())?;
            let count = usize::try_from(count).map_err(|_| invalid())?;
            ClusterCommand::GetKeysInSlot(slot, count)
        }
        _ => return Err(Reply::err(format!("unknown subcommand '{name}'"))),
    };
    Ok(Command::Cluster(command))
}

/// The slot map this connection describes: the backend's, or this node alone when the backend
/// has no ring.
fn slot_map(session: &Session, backend: &dyn Backend) -> Arc<SlotMap> {
    if let Some(map) = backend.slot_map() {
        return map;
    }
    let local = session
        .record
        .laddr
        .map_or_else(|| "127.0.0.1:6380".to_string(), |addr| addr.to_string());
    let node = ClusterNode::new(&local, &local).unwrap_or(ClusterNode {
        id: crate::slot_map::node_id(&local),
        ring: local.clone(),
        ip: "127.0.0.1".into(),
        port: 6380,
    });
    Arc::new(SlotMap::single(node))
}

/// Runs a `CLUSTER` subcommand; the connection becomes a cluster client.
pub fn execute(command: ClusterCommand, session: &mut Session, backend: &dyn Backend) -> Reply {
    session.cluster_client = true;
    let map = slot_map(session, backend);
    match command {
        ClusterCommand::Slots => Reply::Array(
            map.ranges
                .iter()
                .map(|range| slots_entry(&map, range))
                .collect(),
        ),
        ClusterCommand::Shards => shards(&map),
        ClusterCommand::Nodes => Reply::Verbatim(Bytes::from(nodes_text(&map))),
        ClusterCommand::MyId => map
            .me()
            .map_or_else(|| Reply::Bulk(Bytes::new()), |me| Reply::text(&me.id)),
        ClusterCommand::MyShardId => map.me().map_or_else(
            || Reply::Bulk(Bytes::new()),
            |me| Reply::text(&me.shard_id()),
        ),
        ClusterCommand::Info => Reply::Verbatim(Bytes::from(info_text(&map))),
        ClusterCommand::KeySlot(key) => Reply::Integer(i64::from(Slot::of_key(&key).number())),
        ClusterCommand::CountKeysInSlot(slot) => {
            let count = backend.local_keys_in_slot(slot, usize::MAX).len();
            Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX))
        }
        ClusterCommand::GetKeysInSlot(slot, count) => Reply::Array(
            backend
                .local_keys_in_slot(slot, count)
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ),
        ClusterCommand::Help => Reply::Array(
            HELP.iter()
                .map(|line| Reply::Simple((*line).to_string().into()))
                .collect(),
        ),
    }
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot> stored on this node.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by this node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "MYSHARDID",
    "    Return the id of the shard this node is primary of.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "HELP",
    "    Prints this help.",
    "Dendrite assigns slots from the ring: ADDSLOTS, MEET, FAILOVER and the like are refused.",
];

/// One node of a `CLUSTER SLOTS` entry: ip, port, id, networking metadata (none).
fn slots_node(node: &ClusterNode) -> Reply {
    Reply::Array(vec![
        Reply::text(&node.ip),
        Reply::Integer(i64::from(node.port)),
        Reply::text(&node.id),
        Reply::Map(Vec::new()),
    ])
}

fn slots_entry(map: &SlotMap, range: &SlotRange) -> Reply {
    let mut entry = vec![
        Reply::Integer(i64::from(range.first)),
        Reply::Integer(i64::from(range.last)),
    ];
    entry.extend(
        std::iter::once(range.primary)
            .chain(range.replicas.iter().copied())
            .filter_map(|index| map.nodes.get(index))
            .map(slots_node),
    );
    Reply::Array(entry)
}

/// `CLUSTER SHARDS`: one shard per node that is primary of some slots, with the replicas of
/// those slots as its replicas.
fn shards(map: &SlotMap) -> Reply {
    let mut shards = Vec::new();
    for (index, node) in map.nodes.iter().enumerate() {
        let owned: Vec<&SlotRange> = map.ranges.iter().filter(|r| r.primary == index).collect();
        if owned.is_empty() {
            continue;
        }
        let mut slots = Vec::new();
        let mut replicas: Vec<usize> = Vec::new();
        for range in &owned {
            slots.push(Reply::Integer(i64::from(range.first)));
            slots.push(Reply::Integer(i64::from(range.last)));
            for replica in &range.replicas {
                if !replicas.contains(replica) {
                    replicas.push(*replica);
                }
            }
        }
        let mut nodes = vec![shard_node(node, "master")];
        nodes.extend(
            replicas
                .iter()
                .filter_map(|i| map.nodes.get(*i))
                .map(|replica| shard_node(replica, "replica")),
        );
        shards.push(Reply::Map(vec![
            (Reply::text("slots"), Reply::Array(slots)),
            (Reply::text("nodes"), Reply::Array(nodes)),
        ]));
    }
    Reply::Array(shards)
}

fn shard_node(node: &ClusterNode, role: &str) -> Reply {
    Reply::Map(vec![
        (Reply::text("id"), Reply::text(&node.id)),
        (Reply::text("port"), Reply::Integer(i64::from(node.port))),
        (Reply::text("ip"), Reply::text(&node.ip)),
        (Reply::text("endpoint"), Reply::text(&node.ip)),
        (Reply::text("role"), Reply::text(role)),
        (Reply::text("replication-offset"), Reply::Integer(0)),
        (Reply::text("health"), Reply::text("online")),
    ])
}

/// `CLUSTER NODES`: every node as a master with the slots it is primary of (a Dendrite node is
/// primary of some slots and replica of others, which this format cannot say; `CLUSTER SLOTS`
/// and `CLUSTER SHARDS` list the replicas).
fn nodes_text(map: &SlotMap) -> String {
    let mut text = String::new();
    for (index, node) in map.nodes.iter().enumerate() {
        let flags = if map.is_me(index) {
            "myself,master"
        } else {
            "master"
        };
        let _ = write!(
            text,
            "{} {}@{} {flags} - 0 0 {} connected",
            node.id,
            node.endpoint(),
            u32::from(node.port) + 10000,
            index + 1
        );
        for range in map.ranges.iter().filter(|r| r.primary == index) {
            if range.first == range.last {
                let _ = write!(text, " {}", range.first);
            } else {
                let _ = write!(text, " {}-{}", range.first, range.last);
            }
        }
        text.push('\n');
    }
    text
}

/// `CLUSTER INFO`, with Redis's fields.
fn info_text(map: &SlotMap) -> String {
    let assigned: u32 = map
        .ranges
        .iter()
        .map(|range| u32::from(range.last - range.first) + 1)
        .sum();
    let primaries = (0..map.nodes.len())
        .filter(|index| map.ranges.iter().any(|r| r.primary == *index))
        .count();
    let state = if map.covers_every_slot() {
        "ok"
    } else {
        "fail"
    };
    let epoch = map.nodes.len();
    let mine = map.myself.map_or(0, |i| i + 1);
    format!(
        "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{assigned}\r\n\
         cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{primaries}\r\ncluster_current_epoch:{epoch}\r\ncluster_my_epoch:{mine}\r\n\
         cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n",
        map.nodes.len()
    )
}

/// What a cluster client's request gets (see [`route`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Routing {
    /// No keys (or nothing to decide): served as usual, not counted.
    Unkeyed,
    /// Served here, where the key's primary is.
    Here,
    /// Served, forwarded to the key's primary on another node: the slot map names this node
    /// while the ring says otherwise and no other node can be named (a map one refresh
    /// behind, a slot split by a Go vnode), or the command follows `ASKING`.
    Forwarded,
    /// A `READONLY` client's read-only command on a slot this node is a replica of: run
    /// against this node's own copies ([`crate::backend::ReplicaReads`]), as a Redis replica
    /// answers it.
    ReplicaRead,
    /// Answered with this instead: `CROSSSLOT` when its keys are in several slots, `MOVED`
    /// when their slot's primary is another node.
    Redirected(Reply),
}

/// Where a cluster client's request `args` is served; `asking`: the previous command was
/// `ASKING`, so the request is served here (or forwarded) whatever the slot map says, as Redis
/// serves a command after `ASKING` on the node a slot is importing to.
pub fn route(args: &[Bytes], asking: bool, session: &Session, backend: &dyn Backend) -> Routing {
    let Some(command) = args.first().and_then(|name| spec::lookup(name)) else {
        return Routing::Unkeyed;
    };
    let keys = command.keys_of(args).unwrap_or_default();
    let Some((first, rest)) = keys.split_first() else {
        return Routing::Unkeyed;
    };
    let slot = Slot::of_key(first);
    if rest.iter().any(|key| Slot::of_key(key) != slot) {
        return Routing::Redirected(Reply::Error(
            "CROSSSLOT Keys in request don't hash to the same slot".into(),
        ));
    }
    if backend.is_primary_here(first) {
        return Routing::Here;
    }
    if asking {
        return Routing::Forwarded;
    }
    let Some(map) = backend.slot_map() else {
        return Routing::Forwarded;
    };
    let Some(range) = map.range_of(slot) else {
        return Routing::Forwarded;
    };
    // A replica answers reads from its own copy, at consistency 1 (a session that asked for
    // more is served through the primary, which gathers the copies).
    if session.readonly
        && session.read == Consistency::ONE
        && command.has_flag("readonly")
        && range.replicas.iter().any(|r| map.is_me(*r))
    {
        return Routing::ReplicaRead;
    }
    if map.is_me(range.primary) {
        // The ring handed the range on (a join in progress) before the map was rebuilt: served
        // by forwarding, never `ASK` (docs/design.md, *Hash slots*).
        return Routing::Forwarded;
    }
    match map.nodes.get(range.primary) {
        Some(primary) => Routing::Redirected(Reply::Error(format!(
            "MOVED {} {}",
            slot.number(),
            primary.endpoint()
        ))),
        None => Routing::Forwarded,
    }
}

/// The `# Cluster` section of `INFO`.
pub fn info_section() -> &'static str {
    "# Cluster\r\ncluster_enabled:1\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn run(words: &[&str], session: &mut Session, backend: &dyn Backend) -> Reply {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        match Command::parse(args) {
            Ok(Command::Cluster(command)) => execute(command, session, backend),
            Ok(other) => panic!("not a CLUSTER command: {other:?}"),
            Err(reply) => reply,
        }
    }

    #[test]
    fn keyslot_and_bad_slots_answer_as_redis() {
        let backend = MemoryBackend::new(1);
        let mut session = Session::new(1);
        assert_eq!(
            run(&["CLUSTER", "KEYSLOT", "foo"], &mut session, &backend),
            Reply::Integer(12182)
        );
        assert!(session.cluster_client);
        assert_eq!(
            run(
                &["CLUSTER", "COUNTKEYSINSLOT", "16384"],
                &mut session,
                &backend
            ),
            Reply::err("Invalid slot")
        );
        assert_eq!(
            run(
                &["CLUSTER", "GETKEYSINSLOT", "1", "-1"],
                &mut session,
                &backend
            ),
            Reply::err("Invalid slot or number of keys")
        );
        assert_eq!(
            run(
                &["CLUSTER", "GETKEYSINSLOT", "x", "1"],
                &mut session,
                &backend
            ),
            not_an_integer()
        );
        let refused = run(&["CLUSTER", "ADDSLOTS", "1"], &mut session, &backend);
        assert!(
            matches!(&refused, Reply::Error(text) if text.contains("Dendrite manages slots itself")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_lone_backend_owns_every_slot() {
        let backend = MemoryBackend::new(1);
        let mut session = Session::new(1);
        let Reply::Array(ranges) = run(&["CLUSTER", "SLOTS"], &mut session, &backend) else {
            panic!("CLUSTER SLOTS is not an array");
        };
        assert_eq!(ranges.len(), 1);
        let Reply::Verbatim(info) = run(&["CLUSTER", "INFO"], &mut session, &backend) else {
            panic!("CLUSTER INFO is not text");
        };
        assert!(String::from_utf8_lossy(&info).contains("cluster_state:ok"));
        assert!(String::from_utf8_lossy(&info).contains("cluster_slots_assigned:16384"));
    }

    #[test]
    fn cross_slot_requests_are_refused_for_cluster_clients() {
        let backend = MemoryBackend::new(1);
        let session = Session::new(1);
        let args = |words: &[&str]| -> Vec<Bytes> {
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        assert_eq!(
            route(&args(&["MGET", "foo", "bar"]), false, &session, &backend),
            Routing::Redirected(Reply::Error(
                "CROSSSLOT Keys in request don't hash to the same slot".into()
            ))
        );
        assert_eq!(
            route(&args(&["MGET", "{a}1", "{a}2"]), false, &session, &backend),
            Routing::Here
        );
        assert_eq!(
            route(&args(&["PING"]), false, &session, &backend),
            Routing::Unkeyed
        );
    }
}
