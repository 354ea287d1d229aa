//! `dendrite status`: a node's `/status` document as a table for people, like
//! `nodetool status` — one row per vnode with its share of the ring and neighbours.
//!
//! Pure text rendering from the [`NodeStatus`] the JSON is read into, so the layout is unit
//! tested without a node.

use std::fmt::Write as _;

use crate::node_status::{NodeStatus, VnodeStatus};

/// How many characters of a vnode id are shown; enough to tell vnodes apart.
const SHORT_ID: usize = 12;
/// How many successors are listed per vnode.
const SHOWN_SUCCESSORS: usize = 2;

/// `hosts` joined by commas, `-` for none.
fn host_list<'a>(hosts: impl Iterator<Item = &'a str>) -> String {
    let hosts: Vec<&str> = hosts.collect();
    if hosts.is_empty() {
        "-".to_owned()
    } else {
        hosts.join(",")
    }
}

/// The state column: `UN` (up, normal) once the vnode knows its predecessor, `UJ` (up,
/// joining) before, and `D?` when the node reports it is not running.
fn state(running: bool, vnode: &VnodeStatus) -> &'static str {
    match (running, vnode.predecessor.is_some()) {
        (false, _) => "D?",
        (true, true) => "UN",
        (true, false) => "UJ",
    }
}

/// Renders a `/status` document as the `dendrite status` table.
pub fn render_status(status: &NodeStatus) -> String {
    let running = status.running.unwrap_or(true);
    let shown = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let host = status.host.as_deref().unwrap_or("-");
    let keys = status.keys;
    let lacking = shown(status.underreplicated_ranges);
    let replicas = shown(status.replicas);
    let vnodes = status.vnodes();
    let mut rows = vec![[
        "--".to_owned(),
        "Vnode".to_owned(),
        "Owns".to_owned(),
        "Predecessor".to_owned(),
        "Successors".to_owned(),
        "Replicas".to_owned(),
    ]];
    let mut owned = 0.0;
    for vnode in vnodes {
        let id: String = vnode.id.chars().take(SHORT_ID).collect();
        owned += vnode.ownership.unwrap_or(0.0);
        rows.push([
            state(running, vnode).to_owned(),
            id,
            vnode
                .ownership
                .map_or_else(|| "?".to_owned(), |s| format!("{:.2}%", s * 100.0)),
            vnode
                .predecessor
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.host.clone()),
            host_list(
                vnode
                    .successors
                    .iter()
                    .take(SHOWN_SUCCESSORS)
                    .map(|n| n.host.as_str()),
            ),
            host_list(vnode.replicas.iter().map(String::as_str)),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "Node {host}: {} vnodes, replicas {replicas}, {keys} keys stored here, owns {:.2}% of the ring",
        vnodes.len(),
        owned * 100.0
    );
    let _ = writeln!(
        out,
        "Ranges lacking copies (under-replicated): {lacking} (0 = every range here has all its copies)"
    );
    let _ = writeln!(out, "Status: U=up D=down / State: N=normal J=joining");
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    if let Some(ring) = &status.ring {
        let _ = writeln!(out, "\nRing as seen from {host}: {} nodes", ring.len());
        let _ = writeln!(out, "{:<24}  {:>6}  {:>7}", "Node", "Vnodes", "Owns");
        for node in ring {
            let _ = writeln!(
                out,
                "{:<24}  {:>6}  {:>6.2}%",
                node.host,
                node.vnodes,
                node.ownership * 100.0
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_row_per_vnode() {
        let status: NodeStatus = serde_json::from_value(serde_json::json!({
            "host": "127.0.0.1:6580",
            "running": true,
            "keys": 42,
            "max_consistency": 3,
            "underreplicated_ranges": 1,
            "replicas": 2,
            "vnodes": [
                {
                    "id": "00112233445566778899aabbccddeeff",
                    "predecessor": {"id": "ff", "host": "127.0.0.1:6581"},
                    "successors": [
                        {"id": "1", "host": "127.0.0.1:6582"},
                        {"id": "2", "host": "127.0.0.1:6581"},
                        {"id": "3", "host": "127.0.0.1:6580"}
                    ],
                    "replicas": ["127.0.0.1:6582", "127.0.0.1:6581"],
                    "ownership": 0.125
                },
                {"id": "ab", "predecessor": null, "successors": [], "replicas": [], "ownership": null}
            ],
            "ring": [
                {"host": "127.0.0.1:6580", "vnodes": 3, "ownership": 0.25},
                {"host": "127.0.0.1:6581", "vnodes": 3, "ownership": 0.75}
            ]
        }))
        .unwrap();
        let table = render_status(&status);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "Node 127.0.0.1:6580: 2 vnodes, replicas 2, 42 keys stored here, owns 12.50% of the ring"
        );
        assert_eq!(
            lines[1],
            "Ranges lacking copies (under-replicated): 1 (0 = every range here has all its copies)"
        );
        assert!(lines[3].starts_with("--  Vnode"), "{table}");
        assert!(
            lines[4].starts_with("UN  001122334455  12.50%  127.0.0.1:6581"),
            "{table}"
        );
        assert!(
            lines[4].contains("127.0.0.1:6582,127.0.0.1:6581  127.0.0.1:6582,127.0.0.1:6581"),
            "{table}"
        );
        assert!(lines[5].starts_with("UJ  ab"), "{table}");
        assert_eq!(lines[7], "Ring as seen from 127.0.0.1:6580: 2 nodes");
        assert!(lines[9].starts_with("127.0.0.1:6580"), "{table}");
        assert!(lines[9].ends_with("3   25.00%"), "{table}");
        assert!(lines[10].ends_with("3   75.00%"), "{table}");
        assert_eq!(lines.len(), 11);
    }
}
