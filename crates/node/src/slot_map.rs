//! The cluster as Redis Cluster clients see it: which node is primary (and which are replicas)
//! of each hash slot, and where clients reach each node.
//!
//! Built from the ring (every vnode, [`dtable::Table::members`]) and the client addresses the
//! nodes tell each other (docs/wire.md §6.3). Slot `s` belongs to the vnode that succeeds the
//! last key position of its arc (`dtable::slot`); its primary is that vnode's node, its
//! replicas the next nodes on the ring, as dtable places copies. A node that serves no clients
//! (a Go peer) cannot be told to a client: its slots are listed under the next node that can,
//! which serves them by forwarding (docs/design.md, *Hash slots*).

use std::collections::HashMap;

use dendrite::{Id, Vnode};
use dtable::{Slot, SLOT_COUNT};

/// One node as cluster clients know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// 40 hex digits derived from the ring address: the same across restarts on that address.
    pub id: String,
    /// The node's ring address (`host:port`), which names it on the ring.
    pub ring: String,
    /// The host clients connect to (an IP or a name, without IPv6 brackets).
    pub ip: String,
    /// The RESP port clients connect to.
    pub port: u16,
}

impl ClusterNode {
    /// The node at ring address `ring`, reached by clients at `client` (`host:port`); `None`
    /// when `client` is not a `host:port`.
    pub fn new(ring: &str, client: &str) -> Option<ClusterNode> {
        let (host, port) = client.rsplit_once(':')?;
        let port = port.parse().ok()?;
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        Some(ClusterNode {
            id: node_id(ring),
            ring: ring.to_string(),
            ip: ip.to_string(),
            port,
        })
    }

    /// `ip:port` as MOVED and CLUSTER NODES write it.
    pub fn endpoint(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }

    /// The id of the shard this node is primary of (`CLUSTER MYSHARDID`, `CLUSTER SHARDS`).
    pub fn shard_id(&self) -> String {
        Id::of_key(format!("dendrite-shard:{}", self.ring).as_bytes()).to_string()
    }
}

/// A node's cluster id: SHA-1 of its ring address, in hex (stable across restarts).
pub fn node_id(ring: &str) -> String {
    Id::of_key(format!("dendrite-node:{ring}").as_bytes()).to_string()
}

/// Consecutive slots with the same primary and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot of the range.
    pub first: u16,
    /// Last slot of the range (inclusive).
    pub last: u16,
    /// Index of the primary in [`SlotMap::nodes`].
    pub primary: usize,
    /// Indexes of the replicas in [`SlotMap::nodes`], in ring order.
    pub replicas: Vec<usize>,
}

/// Every slot's primary and replicas, as one node last saw the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMap {
    /// The nodes that serve clients, sorted by ring address.
    pub nodes: Vec<ClusterNode>,
    /// Ranges covering slots 0..=16383 in order, each slot exactly once (empty when no node
    /// serves clients).
    pub ranges: Vec<SlotRange>,
    /// Index of this node in [`nodes`](Self::nodes), when it is listed.
    pub myself: Option<usize>,
}

impl SlotMap {
    /// One node owning every slot: a node alone, or a front end with no ring behind it.
    pub fn single(node: ClusterNode) -> SlotMap {
        SlotMap {
            nodes: vec![node],
            ranges: vec![SlotRange {
                first: 0,
                last: SLOT_COUNT - 1,
                primary: 0,
                replicas: Vec::new(),
            }],
            myself: Some(0),
        }
    }

    /// The map of a ring whose vnodes are `members` (any order), where `addresses` gives the
    /// client address of each ring host that has one, and each slot has `replicas` replicas.
    /// `me` is this node's ring address.
    pub fn build(
        members: &[Vnode],
        addresses: &HashMap<String, String>,
        replicas: usize,
        me: &str,
    ) -> SlotMap {
        let mut nodes: Vec<ClusterNode> = addresses
            .iter()
            .filter_map(|(ring, client)| ClusterNode::new(ring, client))
            .collect();
        nodes.sort_by(|a, b| a.ring.cmp(&b.ring));
        let index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.ring.as_str(), i))
            .collect();
        let mut vnodes: Vec<&Vnode> = members.iter().collect();
        vnodes.sort_by_key(|v| v.id);
        // Copies of the range ending at each vnode, computed once per vnode.
        let mut copies_at: HashMap<usize, Option<(usize, Vec<usize>)>> = HashMap::new();
        let mut ranges: Vec<SlotRange> = Vec::new();
        for slot in Slot::all() {
            if vnodes.is_empty() {
                break;
            }
            let at = vnodes.partition_point(|v| v.id < slot.last_key()) % vnodes.len();
            let copies = copies_at
                .entry(at)
                .or_insert_with(|| copies_from(&vnodes, at, &index, replicas));
            let Some((primary, replicas)) = copies.clone() else {
                continue;
            };
            match ranges.last_mut() {
                Some(last)
                    if last.last + 1 == slot.number()
                        && last.primary == primary
                        && last.replicas == replicas =>
                {
                    last.last = slot.number();
                }
                _ => ranges.push(SlotRange {
                    first: slot.number(),
                    last: slot.number(),
                    primary,
                    replicas,
                }),
            }
        }
        let myself = index.get(me).copied();
        SlotMap {
            nodes,
            ranges,
            myself,
        }
    }

    /// The range holding `slot`.
    pub fn range_of(&self, slot: Slot) -> Option<&SlotRange> {
        let at = self
            .ranges
            .partition_point(|range| range.last < slot.number());
        self.ranges
            .get(at)
            .filter(|range| range.first <= slot.number())
    }

    /// The primary of `slot`.
    pub fn primary_of(&self, slot: Slot) -> Option<&ClusterNode> {
        self.range_of(slot)
            .and_then(|range| self.nodes.get(range.primary))
    }

    /// This node, when it serves clients.
    pub fn me(&self) -> Option<&ClusterNode> {
        self.myself.and_then(|i| self.nodes.get(i))
    }

    /// Is `node` (an index in [`nodes`](Self::nodes)) this node?
    pub fn is_me(&self, node: usize) -> bool {
        self.myself == Some(node)
    }

    /// Does every slot have a primary that clients can reach (`cluster_state:ok`)?
    pub fn covers_every_slot(&self) -> bool {
        let covered: u32 = self
            .ranges
            .iter()
            .map(|range| u32::from(range.last - range.first) + 1)
            .sum();
        covered == u32::from(SLOT_COUNT)
    }
}

/// The primary (the first node at or after vnode `at` that serves clients) and replicas (the
/// following such nodes on other hosts, up to `replicas`) of the range ending at vnode `at`.
fn copies_from(
    vnodes: &[&Vnode],
    at: usize,
    index: &HashMap<&str, usize>,
    replicas: usize,
) -> Option<(usize, Vec<usize>)> {
    let mut chosen: Vec<usize> = Vec::new();
    for step in 0..vnodes.len() {
        let vnode = vnodes.get((at + step) % vnodes.len())?;
        if let Some(node) = index.get(vnode.host.as_ref()) {
            if !chosen.contains(node) {
                chosen.push(*node);
            }
        }
        if chosen.len() > replicas {
            break;
        }
    }
    let (primary, rest) = chosen.split_first()?;
    Some((*primary, rest.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(hosts: &[&str]) -> HashMap<String, String> {
        hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), format!("127.0.0.1:{}", 7000 + i)))
            .collect()
    }

    fn vnodes(hosts: &[&str], per_host: u16) -> Vec<Vnode> {
        hosts
            .iter()
            .flat_map(|h| {
                dtable::slot::vnode_ids(h, per_host)
                    .into_iter()
                    .map(move |id| Vnode::new(id, *h))
            })
            .collect()
    }

    #[test]
    fn every_slot_exactly_once_with_distinct_replicas() {
        let hosts = ["a:1", "b:1", "c:1"];
        let map = SlotMap::build(&vnodes(&hosts, 8), &addresses(&hosts), 1, "b:1");
        assert!(map.covers_every_slot());
        assert_eq!(map.ranges.first().map(|r| r.first), Some(0));
        assert_eq!(map.ranges.last().map(|r| r.last), Some(SLOT_COUNT - 1));
        for pair in map.ranges.windows(2) {
            assert_eq!(pair[0].last + 1, pair[1].first);
        }
        for range in &map.ranges {
            assert_eq!(range.replicas.len(), 1);
            assert!(!range.replicas.contains(&range.primary));
        }
        assert_eq!(map.me().map(|n| n.ring.as_str()), Some("b:1"));
    }

    #[test]
    fn slots_follow_the_vnode_that_owns_their_keys() {
        let hosts = ["a:1", "b:1", "c:1"];
        let mut members = vnodes(&hosts, 4);
        members.sort_by_key(|v| v.id);
        let map = SlotMap::build(&members, &addresses(&hosts), 0, "a:1");
        for key in ["foo", "bar", "user:1", "{tag}x"] {
            let position = dtable::KeyPosition::of(key.as_bytes()).id();
            let owner = dendrite::chord::successor_of(&members, &position);
            let primary = map.primary_of(Slot::of_key(key.as_bytes()));
            assert_eq!(
                primary.map(|n| n.ring.as_str()),
                Some(&*owner.host),
                "{key}"
            );
        }
    }

    #[test]
    fn nodes_without_a_client_address_are_skipped() {
        let hosts = ["a:1", "b:1", "go:1"];
        let map = SlotMap::build(&vnodes(&hosts, 4), &addresses(&hosts[..2]), 2, "a:1");
        assert!(map.covers_every_slot());
        assert_eq!(map.nodes.len(), 2);
        assert!(map.ranges.iter().all(|r| r.replicas.len() == 1));
    }

    #[test]
    fn a_slot_split_by_a_go_vnode_is_listed_under_its_last_keys_owner() {
        let hosts = ["a:1", "b:1"];
        let mut members = vnodes(&hosts, 4);
        // A Go vnode (SHA-1 id) in the key half of slot 100: keys of the slot before it are
        // its own, the rest the next vnode's; it serves no clients.
        let slot = Slot::new(100).unwrap();
        let mut go_id = *slot.start().as_bytes();
        go_id[10] = 0x80;
        members.push(Vnode::new(Id::new(go_id), "go:1"));
        let map = SlotMap::build(&members, &addresses(&hosts), 1, "a:1");
        assert!(map.covers_every_slot());
        members.sort_by_key(|v| v.id);
        let owner = dendrite::chord::successor_of(&members, &slot.last_key());
        assert_eq!(
            map.primary_of(slot).map(|n| n.ring.as_str()),
            Some(&*owner.host)
        );
    }

    #[test]
    fn ids_are_stable_and_hex() {
        assert_eq!(node_id("127.0.0.1:7400"), node_id("127.0.0.1:7400"));
        assert_ne!(node_id("127.0.0.1:7400"), node_id("127.0.0.1:7401"));
        assert_eq!(node_id("x:1").len(), 40);
        let node = ClusterNode::new("r:1", "[::1]:6380").unwrap();
        assert_eq!((node.ip.as_str(), node.port), ("::1", 6380));
        assert_eq!(node.endpoint(), "[::1]:6380");
        assert!(ClusterNode::new("r:1", "nonsense").is_none());
    }
}
