//! Slow and lossy links on a node's cluster link, both directions, with `tc`: `netem` (a fixed
//! delay and random loss) where the kernel has `sch_netem`, else a token bucket (`tbf`: the
//! link throttled, packets queued up to the delay and dropped beyond it, so slow and lossy
//! under load rather than always). Needs root and `tc`; [`available`] says which works here.

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

/// Which of the two ways works here (tried once per process, on a scratch veth pair); `Err`
/// says why neither does.
pub fn available() -> Result<Shaper, String> {
    static FOUND: std::sync::OnceLock<Result<Shaper, String>> = std::sync::OnceLock::new();
    FOUND.get_or_init(try_shapers).clone()
}

fn try_shapers() -> Result<Shaper, String> {
    let name = format!("dtn{}", std::process::id() % 100_000);
    let peer = format!("{name}p");
    ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer])
        .map_err(|e| e.to_string())?;
    let netem = tc(None, &shape(&name, Shaper::Netem, 1, 1).as_strs());
    let found = match netem {
        Ok(()) => Ok(Shaper::Netem),
        Err(netem) => tc(None, &shape(&name, Shaper::TokenBucket, 1, 1).as_strs())
            .map(|()| Shaper::TokenBucket)
            .map_err(|tbf| format!("{netem}; and {tbf}")),
    };
    let _ = ip(&["link", "del", &name]);
    found
}

/// How a slow link is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shaper {
    /// `tc netem`: every packet delayed by the round's delay (± a quarter), the round's share
    /// of packets dropped.
    Netem,
    /// `tc tbf`, where the kernel has no `sch_netem`: the link throttled to 8 Mbit/s divided
    /// by the round's loss percentage (0.8-8 Mbit/s), packets queued for at most the round's
    /// delay and dropped beyond it.
    TokenBucket,
}

/// The `tc qdisc replace` arguments that make `dev` slow with `shaper`.
fn shape(dev: &str, shaper: Shaper, delay_ms: u32, loss_percent: u32) -> TcArgs {
    let args = match shaper {
        Shaper::Netem => vec![
            "qdisc".into(),
            "replace".into(),
            "dev".into(),
            dev.into(),
            "root".into(),
            "netem".into(),
            "delay".into(),
            format!("{delay_ms}ms"),
            format!("{}ms", delay_ms / 4),
            "loss".into(),
            format!("{loss_percent}%"),
        ],
        Shaper::TokenBucket => vec![
            "qdisc".into(),
            "replace".into(),
            "dev".into(),
            dev.into(),
            "root".into(),
            "tbf".into(),
            "rate".into(),
            format!("{}kbit", 8_000 / loss_percent.max(1)),
            "burst".into(),
            "16kb".into(),
            "latency".into(),
            format!("{delay_ms}ms"),
        ],
    };
    TcArgs(args)
}

/// Owned `tc` arguments.
struct TcArgs(Vec<String>);

impl TcArgs {
    fn as_strs(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }
}

/// Makes `node`'s cluster link slow and lossy in both directions, with the shaper that works
/// here (see [`Shaper`] for what `delay_ms` and `loss_percent` mean to each).
pub fn slow(
    netns: &Netns,
    node: usize,
    delay_ms: u32,
    loss_percent: u32,
) -> Result<(), NetemError> {
    let shaper = available().map_err(|why| NetemError {
        command: "tc qdisc (netem or tbf)".into(),
        why,
    })?;
    let (outside, inside) = netns.cluster_veth(node);
    tc(
        None,
        &shape(&outside, shaper, delay_ms, loss_percent).as_strs(),
    )?;
    tc(
        Some(&netns.namespaces[node]),
        &shape(&inside, shaper, delay_ms, loss_percent).as_strs(),
    )
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
