//! The `INFO` text: Redis-style sections of `field:value` lines, the `# Ring` section read from
//! the backend's status document.

use super::commands::REDIS_VERSION;
use super::session::Session;
use crate::backend::Backend;
use crate::metrics::Metrics;

/// The `# Ring` INFO section, Redis's replication section in spirit: where this node sits on
/// the ring, read from the backend's `/status` document (absent fields are left out).
pub(super) fn ring_section(status: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("# Ring\r\n");
    let text_of = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    for field in [
        "host",
        "running",
        "replicas",
        "max_consistency",
        "keys",
        "underreplicated_ranges",
    ] {
        if let Some(value) = status.get(field) {
            let value = match value {
                serde_json::Value::Bool(flag) => u8::from(*flag).to_string(),
                other => text_of(other),
            };
            // Writing to a String cannot fail.
            let _ = write!(text, "ring_{field}:{value}\r\n");
        }
    }
    let vnodes = status
        .get("vnodes")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let _ = write!(text, "ring_vnodes:{}\r\n", vnodes.len());
    for (index, vnode) in vnodes.iter().enumerate() {
        let id: String = vnode
            .get("id")
            .map(text_of)
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect();
        let host_of = |value: Option<&serde_json::Value>| {
            value
                .and_then(|v| v.get("host"))
                .map_or_else(|| "none".to_owned(), text_of)
        };
        let predecessor = host_of(vnode.get("predecessor"));
        let successor = host_of(vnode.get("successors").and_then(|list| list.get(0)));
        let ownership = vnode
            .get("ownership")
            .and_then(serde_json::Value::as_f64)
            .map_or_else(
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
fn stats_section(status: &serde_json::Value) -> String {
    let expired = status["table"]["expired"].as_u64().unwrap_or(0);
    format!("# Stats\r\nexpired_keys:{expired}\r\n")
}

/// The `INFO` text: Redis-style sections of `field:value` lines.
pub(super) fn info_text(
    section: Option<&str>,
    session: &Session,
    backend: &dyn Backend,
    metrics: &Metrics,
) -> String {
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
            crate::persistence::info_section(&backend.status()),
        ),
        ("stats", stats_section(&backend.status())),
        ("cluster", super::cluster::info_section().to_string()),
        (
            "keyspace",
            keyspace_section(backend.local_len(), backend.local_expiring()),
        ),
        ("ring", ring_section(&backend.status())),
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
        let status = serde_json::json!({
            "host": "10.0.0.1:7400",
            "running": true,
            "replicas": 2,
            "vnodes": [{
                "id": "0123456789abcdef0123",
                "predecessor": {"id": "ff", "host": "10.0.0.2:7400"},
                "successors": [{"id": "11", "host": "10.0.0.3:7400"}],
                "ownership": 0.25,
            }],
        });
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
