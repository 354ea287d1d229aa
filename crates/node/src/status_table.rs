//! `dendrite status`: a node's `/status` document as a table for people, like
//! `nodetool status` — one row per vnode with its share of the ring and neighbours.
//!
//! Pure text rendering from the JSON, so the layout is unit tested without a node.

use std::fmt::Write as _;

use serde_json::Value;

/// How many characters of a vnode id are shown; enough to tell vnodes apart.
const SHORT_ID: usize = 12;
/// How many successors are listed per vnode.
const SHOWN_SUCCESSORS: usize = 2;

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn host_of(value: &Value) -> String {
    value.get("host").map_or_else(|| "-".to_owned(), text_of)
}

fn hosts(list: Option<&Value>, limit: usize) -> String {
    let hosts: Vec<String> = list
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .take(limit)
                .map(|item| match item {
                    Value::String(host) => host.clone(),
                    other => host_of(other),
                })
                .collect()
        })
        .unwrap_or_default();
    if hosts.is_empty() {
        "-".to_owned()
    } else {
        hosts.join(",")
    }
}

/// The state column: `UN` (up, normal) once the vnode knows its predecessor, `UJ` (up,
/// joining) before, and `D?` when the node reports it is not running.
fn state(running: bool, vnode: &Value) -> &'static str {
    let has_predecessor = vnode.get("predecessor").is_some_and(|p| !p.is_null());
    match (running, has_predecessor) {
        (false, _) => "D?",
        (true, true) => "UN",
        (true, false) => "UJ",
    }
}

/// Renders a `/status` document as the `dendrite status` table.
pub fn render_status(status: &Value) -> String {
    let running = status
        .get("running")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let host = status.get("host").map_or_else(|| "-".to_owned(), text_of);
    let keys = status.get("keys").map_or_else(|| "-".to_owned(), text_of);
    let lacking = status
        .get("underreplicated_ranges")
        .map_or_else(|| "-".to_owned(), text_of);
    let replicas = status
        .get("replicas")
        .map_or_else(|| "-".to_owned(), text_of);
    let vnodes = status
        .get("vnodes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
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
        let id: String = vnode
            .get("id")
            .map(text_of)
            .unwrap_or_default()
            .chars()
            .take(SHORT_ID)
            .collect();
        let share = vnode.get("ownership").and_then(Value::as_f64);
        owned += share.unwrap_or(0.0);
        rows.push([
            state(running, vnode).to_owned(),
            id,
            share.map_or_else(|| "?".to_owned(), |s| format!("{:.2}%", s * 100.0)),
            vnode
                .get("predecessor")
                .map_or_else(|| "-".to_owned(), host_of),
            hosts(vnode.get("successors"), SHOWN_SUCCESSORS),
            hosts(vnode.get("replicas"), usize::MAX),
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
    if let Some(ring) = status.get("ring").and_then(Value::as_array) {
        let _ = writeln!(out, "\nRing as seen from {host}: {} nodes", ring.len());
        let _ = writeln!(out, "{:<24}  {:>6}  {:>7}", "Node", "Vnodes", "Owns");
        for node in ring {
            let share = node.get("ownership").and_then(Value::as_f64).unwrap_or(0.0);
            let _ = writeln!(
                out,
                "{:<24}  {:>6}  {:>6.2}%",
                node.get("host").map_or_else(|| "-".to_owned(), text_of),
                node.get("vnodes").map_or_else(|| "-".to_owned(), text_of),
                share * 100.0
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
        let status = serde_json::json!({
            "host": "127.0.0.1:6580",
            "running": true,
            "keys": 42,
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
        });
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
