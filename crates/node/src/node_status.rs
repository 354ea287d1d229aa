//! [`NodeStatus`]: what a node says about itself, as one typed document shared by `/status`
//! (serialized), `INFO` (its `# Ring`, `# Stats` and `# Persistence` sections) and
//! `dendrite status` (which fetches `/status` and deserializes it into the same type).
//!
//! The JSON field names are the document's public format (operators' scripts and the chaos
//! harness read them): every struct lists its fields in alphabetical order, the order
//! `serde_json`'s maps used when the document was built with `json!`, so the bytes served stay
//! the same (a test checks it). Fields only some backends know are `Option`s left out when
//! absent; fields that are `null` when unknown (a vnode's predecessor, a log error) are kept.

use serde::{Deserialize, Serialize};

/// The `/status` document of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The kind of backend when it is not the ring (`"memory"` for the front ends' test
    /// backend); absent for a ring node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The node's ring address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Keys stored on this node (what DBSIZE reports).
    pub keys: u64,
    /// The highest consistency level accepted: replicas + 1.
    pub max_consistency: u64,
    /// The durable log's figures (ring nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceStatus>,
    /// Copies of each key besides its primary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Per host of the ring this node knows: its vnodes and share of the ring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<Vec<RingHost>>,
    /// Is the node's ring running (false once it is leaving or stopped)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    /// The table's counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableCounters>,
    /// Local ranges lacking copies (0: every key this node is primary for has replicas + 1
    /// copies; see dtable's `Table::underreplicated_ranges`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underreplicated_ranges: Option<u64>,
    /// This node's vnodes and their neighbours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnodes: Option<Vec<VnodeStatus>>,
}

impl NodeStatus {
    /// The status of a backend without a ring: its kind, keys and consistency bound only.
    pub fn without_ring(backend: &str, keys: usize, max_consistency: u8) -> NodeStatus {
        NodeStatus {
            backend: Some(backend.to_owned()),
            host: None,
            keys: keys as u64,
            max_consistency: u64::from(max_consistency),
            persistence: None,
            replicas: None,
            ring: None,
            running: None,
            table: None,
            underreplicated_ranges: None,
            vnodes: None,
        }
    }

    /// This node's vnodes (none for a backend without a ring).
    pub fn vnodes(&self) -> &[VnodeStatus] {
        self.vnodes.as_deref().unwrap_or_default()
    }
}

/// Another vnode, as a neighbour of one of this node's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The node it runs on.
    pub host: String,
    /// Its ring id, 40 hex digits.
    pub id: String,
}

/// How many finger table entries a vnode has filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerCounts {
    /// Vnodes no further apart than 2^k for each k.
    pub distinct: u64,
    /// Entries known (the same vnode may fill several).
    pub known: u64,
}

/// One of this node's vnodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnodeStatus {
    /// Its finger table's fill.
    #[serde(default)]
    pub fingers: FingerCounts,
    /// Its ring id, 40 hex digits.
    pub id: String,
    /// Share of the ring (0..=1) it owns, from its predecessor to itself; `null` while it
    /// knows no predecessor.
    pub ownership: Option<f64>,
    /// Its predecessor; `null` while it knows none (joining).
    pub predecessor: Option<Neighbour>,
    /// The hosts holding copies of its range.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// Its successor list, nearest first.
    #[serde(default)]
    pub successors: Vec<Neighbour>,
}

/// One host of the ring as this node sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingHost {
    /// The host's ring address.
    pub host: String,
    /// Share of the ring (0..=1) its vnodes own.
    pub ownership: f64,
    /// How many vnodes it runs.
    pub vnodes: u64,
}

/// The table's counters since start (dtable's `TableStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounters {
    /// Requests sent straight to the vnode owning the key.
    pub direct_routes: u64,
    /// Keys expired (Redis's `expired_keys`).
    pub expired: u64,
    /// Records of ranges this node no longer serves, handed back and dropped here.
    pub handed_back: u64,
    /// Reads that returned an error.
    pub read_errors: u64,
    /// Reads served to clients by this coordinator.
    pub reads: u64,
    /// Anti-entropy rounds completed.
    pub repair_rounds: u64,
    /// Records received by anti-entropy and migration.
    pub repaired_in: u64,
    /// Records sent by anti-entropy and migration.
    pub repaired_out: u64,
    /// Replica writes still being delivered in the background.
    pub replication_backlog: u64,
    /// Replica writes abandoned to anti-entropy after every attempt failed.
    pub replication_failures: u64,
    /// Requests that needed a lookup or followed a `moved` redirect.
    pub rerouted: u64,
    /// Reads that found no record on a primary still taking its range over and asked the
    /// other copies.
    pub unsettled_reads: u64,
    /// Writes that returned an error.
    pub write_errors: u64,
    /// Writes acknowledged to clients by this coordinator.
    pub writes: u64,
}

/// What a node received from the other copies after it started that was written before: the
/// transfer a restart cost (dtable's `TableStats::caught_up_records`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    /// Their bytes (keys and values).
    pub bytes: u64,
    /// Records received.
    pub records: u64,
}

/// The `persistence` object: a node keeping its data in memory only says so and what it
/// pulled; one with a durable log gives the log's figures.
///
/// Untagged: both serialize their `enabled` flag as they always did, and a document is read
/// back as [`Durable`](Self::Durable) when it has the log's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PersistenceStatus {
    /// A durable log (started with `--data-dir`).
    Durable(Box<DurableStatus>),
    /// Memory only.
    InMemory(InMemoryStatus),
}

impl PersistenceStatus {
    /// What was pulled from other copies after the restart.
    pub fn pulled_after_restart(&self) -> CatchUp {
        match self {
            PersistenceStatus::Durable(log) => log.pulled_after_restart,
            PersistenceStatus::InMemory(memory) => memory.pulled_after_restart,
        }
    }
}

/// [`PersistenceStatus::InMemory`]'s fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InMemoryStatus {
    /// Always false: no log.
    pub enabled: bool,
    /// What was pulled from other copies after the start.
    pub pulled_after_restart: CatchUp,
}

/// [`PersistenceStatus::Durable`]'s fields: dtable's `LogStatus` as operators read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableStatus {
    /// Bytes appended since start.
    pub appended_bytes: u64,
    /// Always true: a log.
    pub enabled: bool,
    /// The error that stops the log now, if any.
    pub error: Option<String>,
    /// The fsync policy's name (`always`, `everysec`, `no`).
    pub fsync: String,
    /// Milliseconds since the last fsync while bytes wait for one.
    pub fsync_lag_ms: u64,
    /// Fsyncs since start.
    pub fsyncs: u64,
    /// Unix seconds of the last successful save (Redis's `LASTSAVE`).
    pub last_save_unix: u64,
    /// Did the last snapshot fail?
    pub last_snapshot_failed: bool,
    /// When the newest snapshot was completed (Unix ms), if there is one.
    pub last_snapshot_unix_ms: Option<u64>,
    /// Bytes of the log on disk: segments and snapshot.
    pub log_bytes: u64,
    /// What was pulled from other copies after the restart.
    pub pulled_after_restart: CatchUp,
    /// What recovery loaded at start.
    pub recovery: RecoveryStatus,
    /// Client writes refused while the log could not be written.
    pub refused_writes: u64,
    /// Bytes of the segments on disk.
    pub segment_bytes: u64,
    /// Bytes of the newest snapshot on disk.
    pub snapshot_bytes: u64,
    /// Is a snapshot being written now?
    pub snapshot_in_progress: bool,
    /// Was it asked for by a client (SAVE, BGSAVE) rather than by the log's growth?
    pub snapshot_requested: bool,
    /// Snapshots taken by this process.
    pub snapshots: u64,
    /// Bytes appended but not yet known to be on disk.
    pub unsynced_bytes: u64,
    /// Failed writes or fsyncs since start.
    pub write_errors: u64,
}

/// What recovery loaded at start (dtable's `Recovery`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryStatus {
    /// How long loading took, ms.
    pub elapsed_ms: u64,
    /// Records loaded.
    pub records: u64,
    /// Bytes of the segments loaded.
    pub segment_bytes: u64,
    /// Bytes of the snapshot loaded.
    pub snapshot_bytes: u64,
    /// Bytes cut off segments whose last record was cut short.
    pub truncated_bytes: u64,
    /// Segments whose last record was cut short and cut off.
    pub truncated_tails: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_node() -> NodeStatus {
        NodeStatus {
            backend: None,
            host: Some("127.0.0.1:7400".into()),
            keys: 3,
            max_consistency: 3,
            persistence: Some(PersistenceStatus::Durable(Box::new(DurableStatus {
                appended_bytes: 10,
                enabled: true,
                error: None,
                fsync: "everysec".into(),
                fsync_lag_ms: 0,
                fsyncs: 1,
                last_save_unix: 5,
                last_snapshot_failed: false,
                last_snapshot_unix_ms: None,
                log_bytes: 10,
                pulled_after_restart: CatchUp::default(),
                recovery: RecoveryStatus::default(),
                refused_writes: 0,
                segment_bytes: 10,
                snapshot_bytes: 0,
                snapshot_in_progress: false,
                snapshot_requested: false,
                snapshots: 0,
                unsynced_bytes: 0,
                write_errors: 0,
            }))),
            replicas: Some(2),
            ring: Some(vec![RingHost {
                host: "127.0.0.1:7400".into(),
                ownership: 1.0,
                vnodes: 1,
            }]),
            running: Some(true),
            table: Some(TableCounters::default()),
            underreplicated_ranges: Some(0),
            vnodes: Some(vec![VnodeStatus {
                fingers: FingerCounts::default(),
                id: "ab".into(),
                ownership: None,
                predecessor: None,
                replicas: vec![],
                successors: vec![Neighbour {
                    host: "127.0.0.1:7400".into(),
                    id: "ab".into(),
                }],
            }]),
        }
    }

    /// The bytes served are what `json!` built before the document was typed: its maps sorted
    /// their keys, so the typed fields must come in the same order (a `Value` round trip sorts
    /// them) and `null`s must stay where they were.
    #[test]
    fn serializes_as_the_untyped_document_did() {
        let memory = NodeStatus::without_ring("memory", 4, 2);
        let mut in_memory = ring_node();
        in_memory.persistence = Some(PersistenceStatus::InMemory(InMemoryStatus {
            enabled: false,
            pulled_after_restart: CatchUp {
                bytes: 7,
                records: 1,
            },
        }));
        for status in [ring_node(), in_memory, memory] {
            let typed = serde_json::to_string_pretty(&status).unwrap();
            let sorted =
                serde_json::to_string_pretty(&serde_json::to_value(&status).unwrap()).unwrap();
            assert_eq!(typed, sorted);
            let back: NodeStatus = serde_json::from_str(&typed).unwrap();
            assert_eq!(back, status);
        }
        let text = serde_json::to_string(&ring_node()).unwrap();
        assert!(text.contains(r#""predecessor":null"#), "{text}");
        assert!(text.contains(r#""error":null"#), "{text}");
        assert!(!text.contains("backend"), "{text}");
        assert_eq!(
            serde_json::to_string(&NodeStatus::without_ring("memory", 4, 2)).unwrap(),
            r#"{"backend":"memory","keys":4,"max_consistency":2}"#
        );
    }
}
