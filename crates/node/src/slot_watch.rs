//! Keeps this node's [`SlotMap`] current: rebuilt every second and at once after every ring
//! event, from a walk of the ring and the client addresses the nodes announce. The console
//! reads the same walk ([`SlotWatch::ring`]): one walk a second serves both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use dendrite::Vnode;
use dtable::{NodeAddresses, Table, TableError};
use futures::future::join_all;
use tokio::sync::broadcast::error::RecvError;

use crate::slot_map::SlotMap;

/// Pause between two rebuilds when the ring is quiet.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Every this many rebuilds, the client address of every node is asked again (a node may have
/// restarted with another RESP port); in between only nodes not heard from yet are asked.
const REASK_EVERY: u32 = 10;

/// The latest slot map, shared by every connection of the node.
#[derive(Debug, Default)]
pub struct SlotWatch {
    current: RwLock<Option<Arc<SlotMap>>>,
    addresses: Mutex<HashMap<String, NodeAddresses>>,
    ring: RwLock<Option<Arc<RingWalk>>>,
}

/// The ring as the last rebuild walked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingWalk {
    /// Every vnode found, sorted by id.
    pub members: Vec<Vnode>,
    /// Where each host (ring address) serves its console, for the hosts that said.
    pub consoles: HashMap<String, String>,
    /// When the walk was made.
    pub at: std::time::Instant,
}

impl SlotWatch {
    /// The map of the last rebuild; `None` before the first one.
    pub fn current(&self) -> Option<Arc<SlotMap>> {
        self.current.read().ok().and_then(|map| map.clone())
    }

    /// The ring walk of the last rebuild; `None` before the first one.
    pub fn ring(&self) -> Option<Arc<RingWalk>> {
        self.ring.read().ok().and_then(|walk| walk.clone())
    }

    /// Rebuilds the map from the ring now; `reask` asks every node its client address again.
    pub async fn refresh(&self, table: &Table, reask: bool) -> Result<(), TableError> {
        let members = table.members().await?;
        let mut hosts: BTreeMap<&str, &Vnode> = BTreeMap::new();
        for vnode in &members {
            hosts.entry(&vnode.host).or_insert(vnode);
        }
        let known = self.addresses.lock().map(|a| a.clone()).unwrap_or_default();
        let ask: Vec<&Vnode> = hosts
            .iter()
            .filter(|(host, _)| reask || !known.contains_key(**host))
            .map(|(_, vnode)| *vnode)
            .collect();
        let answers = join_all(ask.iter().map(|vnode| table.node_addresses(vnode))).await;
        let mut addresses = known;
        for (vnode, answer) in ask.iter().zip(answers) {
            match answer {
                Ok(said) => {
                    addresses.insert(vnode.host.to_string(), said);
                }
                // A silent node keeps the address it had; the ring drops it if it died.
                Err(error) => {
                    tracing::debug!(host = %vnode.host, %error, "client address not known")
                }
            }
        }
        addresses.retain(|host, _| hosts.contains_key(host.as_str()));
        let clients: HashMap<String, String> = addresses
            .iter()
            .filter_map(|(host, said)| Some((host.clone(), said.client.clone()?)))
            .collect();
        let consoles: HashMap<String, String> = addresses
            .iter()
            .filter_map(|(host, said)| Some((host.clone(), said.console.clone()?)))
            .collect();
        let map = SlotMap::build(
            &members,
            &clients,
            table.ring().config().replicas,
            table.ring().local_host(),
        );
        if let Ok(mut known) = self.addresses.lock() {
            *known = addresses;
        }
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(map));
        }
        if let Ok(mut ring) = self.ring.write() {
            *ring = Some(Arc::new(RingWalk {
                members,
                consoles,
                at: std::time::Instant::now(),
            }));
        }
        Ok(())
    }

    /// Rebuilds the map every second and after ring events, until the ring stops
    /// or the watch is dropped.
    pub fn spawn(self: &Arc<Self>, table: Table) -> tokio::task::JoinHandle<()> {
        let watch: Weak<SlotWatch> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut events = table.ring().subscribe();
            let mut round: u32 = 0;
            loop {
                tokio::select! {
                    event = events.recv() => {
                        if matches!(event, Err(RecvError::Closed)) {
                            return;
                        }
                    }
                    () = tokio::time::sleep(REFRESH_EVERY) => {}
                }
                if !table.ring().is_running() {
                    return;
                }
                let Some(watch) = watch.upgrade() else {
                    return;
                };
                round = round.wrapping_add(1);
                if let Err(error) = watch.refresh(&table, round % REASK_EVERY == 0).await {
                    tracing::debug!(%error, "slot map not rebuilt; keeping the last one");
                }
            }
        })
    }
}
