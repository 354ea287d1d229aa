//! The cluster as one node's console shows it (`/console/cluster.json`): the ring this node
//! last walked (every vnode, its arc, predecessor, successors and replicas), and every host's
//! state and figures, gathered from each host's own `/console/node.json`.
//!
//! The page polls only the node it was loaded from; that node asks its peers (their console
//! addresses travel in ProbeResp, docs/wire.md §6.3), in parallel with a short timeout, and
//! caches the answer briefly so that many open pages cost the peers no more than one.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use dendrite::Vnode;
use futures::future::join_all;
use serde::Serialize;

use super::figures::NodeFigures;
use super::Console;
use crate::http::client::http_get_authorized;
use crate::table_backend::arc_share;

/// How long a peer may take to send its figures before it is shown as not answering. Well
/// under the failure-detection time, so a dead node turns down on the page first.
pub const PEER_TIMEOUT: Duration = Duration::from_millis(800);
/// How long a host that left the ring is still shown (as down).
pub const DEPARTED_SHOWN: Duration = Duration::from_secs(600);
/// Successors listed per vnode.
const SUCCESSORS_LISTED: usize = 3;

/// The ring and its hosts, as this node sees them.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// The node answering.
    pub viewer: String,
    /// Replicas per key (copies = replicas + 1).
    pub replicas: usize,
    /// Milliseconds since the ring walk shown was made (it is redone every second).
    pub walk_age_ms: u64,
    /// Every vnode of the ring, in ring order.
    pub vnodes: Vec<VnodeView>,
    /// Every host on the ring, and those that left it recently, by ring address.
    pub hosts: Vec<HostView>,
}

/// One vnode on the ring map.
#[derive(Debug, Clone, Serialize)]
pub struct VnodeView {
    /// Ring id, 40 hex digits.
    pub id: String,
    /// Where the id sits on the circle, 0..1 clockwise from the top.
    pub position: f64,
    /// Its host's ring address.
    pub host: String,
    /// The vnode before it: it owns `(predecessor, id]`.
    pub predecessor: String,
    /// The next vnodes on the ring.
    pub successors: Vec<String>,
    /// The hosts holding replicas of its range, in ring order.
    pub replicas: Vec<String>,
    /// Share of the ring its range covers.
    pub ownership: f64,
}

/// One host in the nodes table and the legend.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    /// Its ring address.
    pub host: String,
    /// `up`, `joining` or `down`.
    pub state: String,
    /// Why it is shown down (not answering, left the ring).
    pub reason: Option<String>,
    /// Where its console is served, if it said.
    pub console: Option<String>,
    /// Vnodes it runs on the ring walked.
    pub vnodes: usize,
    /// Share of the ring they own.
    pub ownership: f64,
    /// Its own figures; `None` when they could not be had.
    pub figures: Option<NodeFigures>,
}

impl Console {
    /// Builds the view: the last ring walk, this node's figures, and every peer's asked now.
    pub(super) async fn cluster_view(&self) -> ClusterView {
        let walk = self.slot_watch.ring();
        let members: Vec<Vnode> = walk
            .as_ref()
            .map(|w| w.members.clone())
            .unwrap_or_else(|| self.table.ring().local_vnodes());
        let consoles: HashMap<String, String> = walk
            .as_ref()
            .map(|w| w.consoles.clone())
            .unwrap_or_default();
        let replicas = self.table.ring().config().replicas;
        let vnodes = vnode_views(&members, replicas);
        let me = self.table.ring().local_host().to_string();
        let mut per_host: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for vnode in &vnodes {
            let entry = per_host.entry(vnode.host.clone()).or_default();
            entry.0 += 1;
            entry.1 += vnode.ownership;
        }
        let asked = join_all(per_host.keys().map(|host| {
            let console = consoles.get(host).cloned();
            let is_me = *host == me;
            async move {
                if is_me {
                    return Ok(Some(self.own_figures()));
                }
                match console {
                    Some(address) => self.peer_figures(&address).await.map(Some),
                    None => Ok(None),
                }
            }
        }))
        .await;
        let mut hosts: Vec<HostView> = per_host
            .iter()
            .zip(asked)
            .map(|((host, (count, share)), answer)| {
                let (state, reason, figures) = match answer {
                    Ok(Some(figures)) => (figures.state.clone(), None, Some(figures)),
                    // A node that serves no console (a Go peer) is up as far as the ring says.
                    Ok(None) => ("up".to_string(), None, None),
                    Err(why) => ("down".to_string(), Some(why), None),
                };
                HostView {
                    host: host.clone(),
                    state,
                    reason,
                    console: consoles.get(host).cloned(),
                    vnodes: *count,
                    ownership: *share,
                    figures,
                }
            })
            .collect();
        hosts.extend(self.departed(&per_host));
        ClusterView {
            viewer: me,
            replicas,
            walk_age_ms: walk.map_or(0, |w| {
                u64::try_from(w.at.elapsed().as_millis()).unwrap_or(u64::MAX)
            }),
            vnodes,
            hosts,
        }
    }

    /// Remembers the hosts on the ring now; answers those seen before that left it (within
    /// [`DEPARTED_SHOWN`]), shown down.
    fn departed(&self, on_ring: &BTreeMap<String, (usize, f64)>) -> Vec<HostView> {
        let Ok(mut seen) = self.seen_hosts.lock() else {
            return Vec::new();
        };
        let now = std::time::Instant::now();
        for host in on_ring.keys() {
            seen.insert(host.clone(), now);
        }
        seen.retain(|_, last| now.duration_since(*last) < DEPARTED_SHOWN);
        seen.iter()
            .filter(|(host, _)| !on_ring.contains_key(*host))
            .map(|(host, last)| HostView {
                host: host.clone(),
                state: "down".to_string(),
                reason: Some(format!(
                    "left the ring {} s ago",
                    now.duration_since(*last).as_secs()
                )),
                console: None,
                vnodes: 0,
                ownership: 0.0,
                figures: None,
            })
            .collect()
    }

    /// A peer's figures from its console, or why they could not be had.
    async fn peer_figures(&self, address: &str) -> Result<NodeFigures, String> {
        let response = http_get_authorized(
            address,
            "/console/node.json",
            PEER_TIMEOUT,
            self.peer_authorization.as_deref(),
        )
        .await
        .map_err(|e| format!("not answering: {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "its console answered HTTP {} (is --requirepass the same on every node?)",
                response.status
            ));
        }
        serde_json::from_slice(&response.body)
            .map_err(|e| format!("its console sent figures this version cannot read: {e}"))
    }
}

/// The map's vnodes from the ring's members (any order): arcs, neighbours and replicas, with
/// replicas placed as dtable places them (`dtable::Placement`).
pub fn vnode_views(members: &[Vnode], replicas: usize) -> Vec<VnodeView> {
    let mut sorted: Vec<&Vnode> = members.iter().collect();
    sorted.sort_by_key(|v| v.id);
    sorted.dedup_by_key(|v| v.id);
    let count = sorted.len();
    // Enough successors to find `replicas` other hosts even with several vnodes per host.
    let window = count.min(64.max(8 * (replicas + 1)));
    (0..count)
        .map(|at| {
            let vnode = sorted[at];
            let before = sorted[(at + count - 1) % count];
            let following: Vec<Vnode> = (0..window)
                .map(|step| sorted[(at + step) % count].clone())
                .collect();
            let placed = dtable::Placement::from_successors(&following, replicas)
                .map(|p| p.replicas.iter().map(|r| r.host.to_string()).collect())
                .unwrap_or_default();
            VnodeView {
                id: vnode.id.to_string(),
                position: vnode.id.high_u64() as f64 / 2f64.powi(64),
                host: vnode.host.to_string(),
                predecessor: before.id.to_string(),
                successors: following
                    .iter()
                    .skip(1)
                    .take(SUCCESSORS_LISTED)
                    .map(|v| v.id.to_string())
                    .collect(),
                replicas: placed,
                ownership: if count == 1 {
                    1.0
                } else {
                    arc_share(&before.id, &vnode.id)
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(top: u8, host: &str) -> Vnode {
        let mut id = [0u8; 20];
        id[0] = top;
        Vnode::new(dendrite::Id::new(id), host)
    }

    #[test]
    fn vnodes_know_their_arc_neighbours_and_replicas() {
        let members = [at(0xc0, "c"), at(0x40, "a"), at(0x80, "a"), at(0x20, "b")];
        let views = vnode_views(&members, 1);
        let order: Vec<&str> = views.iter().map(|v| v.host.as_str()).collect();
        assert_eq!(order, ["b", "a", "a", "c"]);
        // 0x40 on a: after 0x20, owns a quarter-eighth, its replica is the next other host (c).
        assert_eq!(views[1].predecessor, members[3].id.to_string());
        assert!((views[1].ownership - 0.125).abs() < 1e-9);
        assert_eq!(views[1].replicas, ["c"]);
        assert!((views[1].position - 0.25).abs() < 1e-9);
        // The first vnode's arc wraps from the last.
        assert_eq!(views[0].predecessor, members[0].id.to_string());
        assert_eq!(views[3].successors.len(), 3);
        let total: f64 = views.iter().map(|v| v.ownership).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(vnode_views(&[at(1, "solo")], 2)[0].ownership, 1.0);
    }
}
