//! The `INFO` text: Redis-style sections of `field:value` lines, the `# Ring` section read from
//! the backend's [`NodeStatus`].

use super::commands::REDIS_VERSION;
use super::session::Session;
use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::node_status::{Neighbour, NodeStatus};

/// The `# Ring` INFO section, Redis's replication section in spirit: where this node sits on
/// the ring, from the backend's status (fields a backend does not know are left out).
pub(super) fn ring_section(status: &NodeStatus) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("# Ring\r\n");
    let fields = [
        ("host", status.host.clone()),
        ("running", status.running.map(|r| u8::from(r).to_string())),
        ("replicas", status.replicas.map(|r| r.to_string())),
        ("max_consistency", Some(status.max_consistency.to_string())),
        ("keys", Some(status.keys.to_string())),
        (
            "underreplicated_ranges",
            status.underreplicated_ranges.map(|r| r.to_string()),
        ),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            // Writing to a String cannot fail.
            let _ = write!(text, "ring_{field}:{value}\r\n");
        }
    }
    let vnodes = status.vnodes();
    let _ = write!(text, "ring_vnodes:{}\r\n", vnodes.len());
    for (index, vnode) in vnodes.iter().enumerate() {
        let id: String = vnode.id.chars().take(12).collect();
        let host_of = |neighbour: Option<&Neighbour>| {
            neighbour.map_or_else(|| "none".to_owned(), |n| n.host.clone())
        };
        let predecessor = host_of(vnode.predecessor.as_ref());
        let successor = host_of(vnode.successors.first());
        let ownership = vnode.ownership.map_or_else(
            || "unknown".to_owned(),
            |share| format!("{:.2}", share * 100.0),
        );
        let _ = write!(
            text,
            "vnode{index}:id={id},predecessor={predecessor},successor={successor},ownership_pct={ownership}\r\n"
        );
    }
    text
}

/// The `# Keyspace` INFO section; like Redis, it lists no database while it is empty.
pub(super) fn keyspace_section(keys: usize, expires: usize) -> String {
    if keys == 0 {
        "# Keyspace\r\n".into()
    } else {
        format!("# Keyspace\r\ndb0:keys={keys},expires={expires},avg_ttl=0\r\n")
    }
}

/// The `# Stats` INFO section: the counters of Redis's that Dendrite keeps, from `/status`.
fn stats_section(status: &NodeStatus) -> String {
    let expired = status.table.map_or(0, |table| table.expired);
    format!("# Stats\r\nexpired_keys:{expired}\r\n")
}

/// The `INFO` text: Redis-style sections of `field:value` lines.
pub(super) fn info_text(
    section: Option<&str>,
    session: &Session,
    backend: &dyn Backend,
    metrics: &Metrics,
) -> String {
    let status = backend.status();
    let sections = [
        (
            "server",
            format!(
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:cluster\r\ndendrite_version:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                metrics.uptime().as_secs(),
            ),
        ),
        (
            "clients",
            format!("# Clients\r\nconnected_clients:{}\r\n", metrics.connected_clients()),
        ),
        (
            "persistence",
            crate::persistence::info_section(status.persistence.as_ref()),
        ),
        ("stats", stats_section(&status)),
        ("cluster", super::cluster::info_section().to_string()),
        (
            "keyspace",
            keyspace_section(backend.local_len(), backend.local_expiring()),
        ),
        ("ring", ring_section(&status)),
        (
            "dendrite",
            format!(
                "# Dendrite\r\nmax_consistency:{}\r\nread_consistency:{}\r\nwrite_consistency:{}\r\n",
                backend.max_consistency(),
                session.read,
                session.write,
            ),
        ),
    ];
    let wanted = |name: &str| match section {
        None | Some("all" | "everything" | "default") => true,
        Some(wanted) => wanted == name,
    };
    sections
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_section_summarises_vnodes() {
        let status: NodeStatus = serde_json::from_value(serde_json::json!({
            "host": "10.0.0.1:7400",
            "running": true,
            "replicas": 2,
            "vnodes": [{
                "id": "0123456789abcdef0123",
                "predecessor": {"id": "ff", "host": "10.0.0.2:7400"},
                "successors": [{"id": "11", "host": "10.0.0.3:7400"}],
                "ownership": 0.25,
            }],
            "keys": 0,
            "max_consistency": 3,
        }))
        .unwrap();
        let text = ring_section(&status);
        assert!(text.contains("ring_host:10.0.0.1:7400\r\n"), "{text}");
        assert!(text.contains("ring_running:1\r\n"), "{text}");
        assert!(text.contains("ring_vnodes:1\r\n"), "{text}");
        assert!(
            text.contains(
                "vnode0:id=0123456789ab,predecessor=10.0.0.2:7400,successor=10.0.0.3:7400,ownership_pct=25.00\r\n"
            ),
            "{text}"
        );
    }
}
