//! Slow and lossy links with `tc netem` on a node's cluster link, both directions. Needs root,
//! `tc`, and the kernel's `sch_netem`; [`available`] says whether this machine has them.

use crate::netns::{ip, run, Netns};

/// A `tc` command that failed.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` failed: {why}")]
pub struct NetemError {
    /// The command line.
    pub command: String,
    /// Its error output, or why it could not run.
    pub why: String,
}

/// Runs `tc args`, in namespace `netns` if given.
fn tc(netns: Option<&str>, args: &[&str]) -> Result<(), NetemError> {
    let mut line = Vec::new();
    if let Some(netns) = netns {
        line.extend(["ip", "netns", "exec", netns]);
    }
    line.push("tc");
    line.extend(args);
    run(line[0], &line[1..]).map_err(|why| NetemError {
        command: line.join(" "),
        why,
    })
}

/// Whether `tc netem` works here: tries it on a scratch veth pair. `Err` says why not.
pub fn available() -> Result<(), String> {
    let name = format!("dtn{}", std::process::id() % 100_000);
    let peer = format!("{name}p");
    ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer])
        .map_err(|e| e.to_string())?;
    let tried = tc(
        None,
        &[
            "qdisc", "add", "dev", &name, "root", "netem", "delay", "1ms",
        ],
    );
    let _ = ip(&["link", "del", &name]);
    tried.map_err(|e| e.to_string())
}

/// Delays every packet on `node`'s cluster link by `delay_ms` (± a quarter) and drops
/// `loss_percent` of them, in both directions.
pub fn slow(
    netns: &Netns,
    node: usize,
    delay_ms: u32,
    loss_percent: u32,
) -> Result<(), NetemError> {
    let delay = format!("{delay_ms}ms");
    let jitter = format!("{}ms", delay_ms / 4);
    let loss = format!("{loss_percent}%");
    let (outside, inside) = netns.cluster_veth(node);
    let netem = |dev: &str| -> Vec<String> {
        [
            "qdisc", "replace", "dev", dev, "root", "netem", "delay", &delay, &jitter, "loss",
            &loss,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let (outside_args, inside_args) = (netem(&outside), netem(&inside));
    tc(None, &as_strs(&outside_args))?;
    tc(Some(&netns.namespaces[node]), &as_strs(&inside_args))
}

/// Removes what [`slow`] added on `node`'s cluster link.
pub fn clear(netns: &Netns, node: usize) -> Result<(), NetemError> {
    let (outside, inside) = netns.cluster_veth(node);
    tc(None, &["qdisc", "del", "dev", &outside, "root"])?;
    tc(
        Some(&netns.namespaces[node]),
        &["qdisc", "del", "dev", &inside, "root"],
    )
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
