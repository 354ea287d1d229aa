//! Where a node puts its vnodes: on slot boundaries, splitting the arcs of the most loaded
//! hosts (token allocation, as Cassandra 4 does), so that ownership stays even as nodes join.
//!
//! Random ids leave the largest of 3 nodes with 3 vnodes each owning 2x the mean share; random
//! ids need hundreds of vnodes per node to come within 15 %. A joining node instead looks at
//! the ring (`dendrite::Ring::survey`) and places each of its vnodes inside an arc of the host
//! that owns the most above its fair share, taking just enough to bring both towards
//! `1 / hosts`. The first node spreads its vnodes evenly. docs/design.md, *Balanced
//! ownership*, has the numbers (the `balance` simulator experiment).

use std::collections::BTreeMap;

use dendrite::{Id, Vnode};

use crate::slot::{Slot, SLOT_COUNT};

/// Ids for the `count` vnodes of the node at `host` joining a ring whose vnodes are `ring`
/// (any order; empty for a new ring). The vnodes the ring still lists for `host` (a restart
/// before its peers forgot it) are kept, so a quick restart comes back on the same ids; only
/// the missing ones are placed anew.
pub fn choose_vnode_ids(ring: &[Vnode], host: &str, count: u16) -> Vec<Id> {
    let mut ids: Vec<Id> = ring
        .iter()
        .filter(|v| &*v.host == host)
        .map(|v| v.id)
        .take(usize::from(count))
        .collect();
    let points: Vec<(u16, &str)> = ring
        .iter()
        .filter(|v| &*v.host != host || ids.contains(&v.id))
        .map(|v| (Slot::of_id(&v.id).number(), v.host.as_ref()))
        .collect();
    let missing = count.saturating_sub(u16::try_from(ids.len()).unwrap_or(u16::MAX));
    for (index, slot) in (0u16..).zip(choose_slots(&points, host, missing)) {
        // Distinct low bits per vnode, and never one of the ids kept.
        let hashed = Id::of_vnode(host, index.wrapping_add(count));
        ids.push(slot.vnode_id(&hashed));
    }
    ids
}

/// The slots (one per vnode, distinct where the ring leaves room) whose upper halves `count`
/// new vnodes of `host` take; `ring` holds the slot and host of every vnode already there
/// (`host`'s own included, when it kept some).
pub fn choose_slots(ring: &[(u16, &str)], host: &str, count: u16) -> Vec<Slot> {
    let total = u32::from(SLOT_COUNT);
    if count == 0 {
        return Vec::new();
    }
    let count32 = u32::from(count);
    if ring.is_empty() {
        // A new ring: evenly spaced, starting where the host's name says.
        let offset = u32::from(Slot::of_id(&Id::of_vnode(host, 0)).number());
        return (0..count32)
            .map(|i| slot_at((offset + i * total / count32) % total))
            .collect();
    }
    // The ring's points (slot -> host; a second vnode in the same slot owns no keys).
    let mut points: BTreeMap<u32, String> = BTreeMap::new();
    for (slot, owner) in ring {
        points
            .entry(u32::from(*slot))
            .or_insert_with(|| (*owner).to_string());
    }
    let mut hosts: std::collections::BTreeSet<&str> = points.values().map(String::as_str).collect();
    hosts.insert(host);
    let target = total / u32::try_from(hosts.len()).unwrap_or(u32::MAX).max(1);
    let mut chosen = Vec::new();
    let mut mine: u32 = loads(&points).get(host).copied().unwrap_or(0);
    for step in 0..count32 {
        let loads = loads(&points);
        // The arc to split: its owner is the most above the target, then the longest arc.
        let best = arcs(&points)
            .into_iter()
            .filter(|arc| arc.len >= 2 && arc.owner != host)
            .max_by_key(|arc| {
                let load = loads.get(arc.owner.as_str()).copied().unwrap_or(0);
                (load, arc.len)
            });
        let Some(arc) = best else {
            break;
        };
        let load = loads.get(arc.owner.as_str()).copied().unwrap_or(0);
        let need = target.saturating_sub(mine).div_ceil(count32 - step).max(1);
        let spare = load.saturating_sub(target).max(1);
        let take = need.min(spare).min(arc.len - 1).max(1);
        // Slightly less for some hosts than for others, so that two nodes joining at once do
        // not both pick the same slot.
        let jitter =
            u32::from(Slot::of_id(&Id::of_vnode(host, 0xffff)).number()) % (take / 16).max(1);
        let take = take - jitter.min(take - 1);
        let point = (arc.start + take) % total;
        points.insert(point, host.to_string());
        chosen.push(slot_at(point));
        mine += take;
    }
    chosen
}

fn slot_at(number: u32) -> Slot {
    Slot::new(i64::from(number)).unwrap_or_else(|_| Slot::of_id(&Id::MAX))
}

/// An arc between two consecutive points: `(start, start + len]` (mod 16384), owned by the
/// host of its end point.
struct RingArc {
    start: u32,
    len: u32,
    owner: String,
}

fn arcs(points: &BTreeMap<u32, String>) -> Vec<RingArc> {
    let total = u32::from(SLOT_COUNT);
    let ends: Vec<(&u32, &String)> = points.iter().collect();
    ends.iter()
        .enumerate()
        .map(|(i, (end, owner))| {
            let previous = if i == 0 {
                ends.last().map_or(**end, |(p, _)| **p)
            } else {
                *ends[i - 1].0
            };
            let len = (**end + total - previous) % total;
            RingArc {
                start: previous,
                len: if len == 0 && ends.len() == 1 {
                    total
                } else {
                    len
                },
                owner: (*owner).clone(),
            }
        })
        .collect()
}

/// Slots owned per host.
fn loads(points: &BTreeMap<u32, String>) -> BTreeMap<String, u32> {
    let mut loads = BTreeMap::new();
    for arc in arcs(points) {
        *loads.entry(arc.owner).or_insert(0) += arc.len;
    }
    loads
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Joins `nodes` hosts one after another with `count` vnodes each; slots per host.
    fn grow(nodes: usize, count: u16) -> Vec<u32> {
        let mut ring: Vec<(u16, String)> = Vec::new();
        for n in 0..nodes {
            let host = format!("10.0.0.{n}:7400");
            let view: Vec<(u16, &str)> = ring.iter().map(|(s, h)| (*s, h.as_str())).collect();
            let slots = choose_slots(&view, &host, count);
            ring.extend(slots.into_iter().map(|s| (s.number(), host.clone())));
        }
        let mut points = BTreeMap::new();
        for (slot, host) in &ring {
            points
                .entry(u32::from(*slot))
                .or_insert_with(|| host.clone());
        }
        loads(&points).into_values().collect()
    }

    fn spread(loads: &[u32]) -> f64 {
        let mean = f64::from(SLOT_COUNT) / loads.len() as f64;
        f64::from(loads.iter().copied().max().unwrap_or(0)) / mean
    }

    #[test]
    fn every_slot_is_owned_and_growth_stays_balanced() {
        for nodes in [1, 2, 3, 10, 30] {
            let loads = grow(nodes, 8);
            assert_eq!(loads.len(), nodes);
            assert_eq!(loads.iter().sum::<u32>(), u32::from(SLOT_COUNT));
        }
        assert!(spread(&grow(3, 8)) <= 1.25, "{:?}", grow(3, 8));
        assert!(spread(&grow(10, 8)) <= 1.15, "{:?}", grow(10, 8));
    }

    #[test]
    fn a_node_still_on_the_ring_gets_its_ids_back() {
        let ids = choose_vnode_ids(&[], "a:1", 4);
        let ring: Vec<Vnode> = ids.iter().map(|id| Vnode::new(*id, "a:1")).collect();
        assert_eq!(choose_vnode_ids(&ring, "a:1", 4), ids);
        let joined = choose_vnode_ids(&ring, "b:1", 4);
        assert_eq!(joined.len(), 4);
        assert!(joined.iter().all(|id| !ids.contains(id)));
    }
}
