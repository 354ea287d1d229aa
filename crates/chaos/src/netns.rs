//! One network namespace per node (needs root), so that links between node processes can be
//! cut for real while the test still talks to every node.
//!
//! Each namespace has two veths: a "cluster" one on a bridge for the ring's traffic, and a
//! "client" one on another bridge for RESP and HTTP, reached from the caller's namespace
//! through the client bridge's address. Taking a node's cluster link down cuts it off from
//! every other node; moving cluster links to a third bridge splits the cluster in two sides
//! that each still talk among themselves (a majority/minority partition). Everything is
//! removed when the [`Netns`] is dropped.

use std::process::Command;

/// An `ip` command that failed.
#[derive(Debug, thiserror::Error)]
#[error("`ip {args}` failed: {why}")]
pub struct NetnsError {
    /// Its arguments.
    pub args: String,
    /// Its error output, or why it could not run.
    pub why: String,
}

/// Runs `program args`; `Err` holds its error output, or why it could not run.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Runs `ip args`.
pub fn ip(args: &[&str]) -> Result<(), NetnsError> {
    run("ip", args).map_err(|why| NetnsError {
        args: args.join(" "),
        why,
    })
}

/// Whether this process runs as root (network namespaces need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The namespaces of a cluster's nodes and the bridges between them.
#[derive(Debug)]
pub struct Netns {
    /// Unique to this process: names of namespaces, links and bridges start with it.
    tag: String,
    /// `10.213.<cluster>.0/24` for ring addresses, `10.213.<client>.0/24` for clients.
    cluster: u8,
    client: u8,
    /// The namespace of each node, by index.
    pub namespaces: Vec<String>,
}

impl Netns {
    /// Namespaces for `nodes` nodes, with their links up.
    pub fn new(nodes: usize) -> Result<Netns, NetnsError> {
        let pid = std::process::id();
        let slot = (pid % 100) as u8;
        let mut netns = Netns {
            tag: format!("dtc{}", pid % 100_000),
            cluster: 2 * slot,
            client: 2 * slot + 1,
            namespaces: Vec::new(),
        };
        let bridges = [netns.bridge("c"), netns.bridge("k"), netns.bridge("p")];
        for bridge in &bridges {
            ip(&["link", "add", bridge, "type", "bridge"])?;
            ip(&["link", "set", bridge, "up"])?;
        }
        let gateway = format!("10.213.{}.254/24", netns.client);
        ip(&["addr", "add", &gateway, "dev", &bridges[1]])?;
        for node in 0..nodes {
            let name = format!("{}-{node}", netns.tag);
            ip(&["netns", "add", &name])?;
            netns.namespaces.push(name.clone());
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
            for (kind, bridge, subnet) in [
                ("c", &bridges[0], netns.cluster),
                ("k", &bridges[1], netns.client),
            ] {
                let outside = netns.link(kind, node);
                let inside = format!("{outside}i");
                ip(&[
                    "link", "add", &outside, "type", "veth", "peer", "name", &inside,
                ])?;
                ip(&["link", "set", &inside, "netns", &name])?;
                ip(&["link", "set", &outside, "master", bridge])?;
                ip(&["link", "set", &outside, "up"])?;
                let address = format!("10.213.{subnet}.{}/24", node + 1);
                ip(&["-n", &name, "addr", "add", &address, "dev", &inside])?;
                ip(&["-n", &name, "link", "set", &inside, "up"])?;
            }
        }
        Ok(netns)
    }

    fn bridge(&self, kind: &str) -> String {
        format!("{}{kind}br", self.tag)
    }

    /// The bridge side of `node`'s link of `kind` ("c" cluster, "k" client).
    fn link(&self, kind: &str, node: usize) -> String {
        format!("{}{kind}{node}", self.tag)
    }

    /// `node`'s cluster link: its bridge side (in the caller's namespace) and its node side
    /// (in the node's namespace).
    pub fn cluster_veth(&self, node: usize) -> (String, String) {
        let outside = self.link("c", node);
        let inside = format!("{outside}i");
        (outside, inside)
    }

    /// `ip link set <node's cluster link> up|down`: down cuts the node off from every other.
    pub fn cluster_link(&self, node: usize, up: bool) -> Result<(), NetnsError> {
        let link = self.link("c", node);
        ip(&["link", "set", &link, if up { "up" } else { "down" }])
    }

    /// Splits the cluster: the cluster links of `minority` move to a bridge of their own, so
    /// its nodes reach each other but none of the others. [`Netns::heal`] undoes it.
    pub fn partition(&self, minority: &[usize]) -> Result<(), NetnsError> {
        let bridge = self.bridge("p");
        for &node in minority {
            ip(&["link", "set", &self.link("c", node), "master", &bridge])?;
        }
        Ok(())
    }

    /// Drops every packet `from` sends to the ring addresses of `to` (a blackhole route per
    /// address in `from`'s namespace: silent, as a cut cable is), while packets the other way
    /// still arrive. Cutting both ways splits two nodes that both still reach the rest.
    /// [`Netns::heal`] undoes it.
    pub fn cut(&self, from: usize, to: &[usize]) -> Result<(), NetnsError> {
        let namespace = self.namespace(from)?;
        for &node in to {
            let address = format!("10.213.{}.{}/32", self.cluster, node + 1);
            ip(&["-n", namespace, "route", "add", "blackhole", &address])?;
        }
        Ok(())
    }

    fn namespace(&self, node: usize) -> Result<&str, NetnsError> {
        self.namespaces
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| NetnsError {
                args: format!("-n <node {node}>"),
                why: format!("no node {node} among {}", self.namespaces.len()),
            })
    }

    /// Every node's cluster link back on the one cluster bridge, and up, and every cut
    /// ([`Netns::cut`]) undone.
    pub fn heal(&self) -> Result<(), NetnsError> {
        for namespace in &self.namespaces {
            ip(&["-n", namespace, "route", "flush", "type", "blackhole"])?;
        }
        let bridge = self.bridge("c");
        for node in 0..self.namespaces.len() {
            let link = self.link("c", node);
            ip(&["link", "set", &link, "master", &bridge])?;
            ip(&["link", "set", &link, "up"])?;
        }
        Ok(())
    }

    /// Node `node`'s ring address (port 7400 in its namespace).
    pub fn ring_address(&self, node: usize) -> String {
        format!("10.213.{}.{}:7400", self.cluster, node + 1)
    }

    /// Node `node`'s address on the client bridge, at `port`.
    pub fn client_address(&self, node: usize, port: u16) -> String {
        format!("10.213.{}.{}:{port}", self.client, node + 1)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Best effort: a namespace outlives its name until its processes exit (the nodes are
        // killed on drop); the veths go with their namespace.
        for name in &self.namespaces {
            let _ = ip(&["netns", "del", name]);
        }
        for kind in ["c", "k", "p"] {
            let _ = ip(&["link", "del", &self.bridge(kind)]);
        }
    }
}
