//! Ring configuration, with the Go original's defaults and validation at construction.

use std::time::Duration;

/// Settings of one node's part of the ring.
///
/// Start from [`Config::new`] (the Go original's defaults), change fields, and let
/// [`Config::validate`] (called by `Ring::create`/`Ring::join`) reject combinations that cannot
/// work.
///
/// ```
/// let mut config = dendrite::Config::new("127.0.0.1:5000");
/// config.num_vnodes = 8;
/// assert!(config.validate().is_ok());
/// config.num_vnodes = 0;
/// assert!(config.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's address on the ring (`host:port`); vnode ids derive from it.
    pub host: String,
    /// Virtual nodes run by this node (Go default 3).
    pub num_vnodes: u16,
    /// The ids of this node's vnodes, when the application chooses them (dtable puts them on
    /// hash-slot boundaries); exactly `num_vnodes` distinct ids. Empty: vnode `i` has the Go
    /// original's id, SHA-1(host ‖ i) (docs/wire.md §2). Peers never check how an id was made.
    pub vnode_ids: Vec<crate::Id>,
    /// Shortest pause between two stabilization rounds of a vnode (Go default 1 s).
    pub stabilize_min: Duration,
    /// Longest pause between two stabilization rounds of a vnode (Go default 3 s); each pause is
    /// drawn uniformly from `[stabilize_min, stabilize_max]` so vnodes do not stabilize in lockstep.
    pub stabilize_max: Duration,
    /// Length of each vnode's successor list (Go default 8).
    pub num_successors: usize,
    /// Copies kept besides the primary, on distinct hosts (Go default 2). Replica-changed events
    /// are computed for this many replicas.
    pub replicas: usize,
    /// Deadline of one remote call (Go used 2 s socket timeouts; 5 s in its examples).
    pub rpc_timeout: Duration,
    /// Most forwards one iterative lookup follows before giving up.
    pub max_lookup_hops: usize,
    /// Deadline of one whole lookup, all hops included.
    pub lookup_timeout: Duration,
    /// Events buffered per subscriber before the oldest are dropped for a slow subscriber.
    pub event_buffer: usize,
    /// Seed of this node's random choices (stabilization jitter). `None` draws one from the OS;
    /// the simulator sets it so that a whole run replays from one seed.
    pub rng_seed: Option<u64>,
}

/// A configuration that cannot work, with the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `host` must be a non-empty `host:port`.
    #[error(
        "host {0:?} is not a host:port address; give the address other nodes reach this one at"
    )]
    InvalidHost(String),
    /// At least one vnode is needed to be on the ring.
    #[error("num_vnodes is 0; a node needs at least one virtual node")]
    NoVnodes,
    /// Chosen vnode ids must be one distinct id per vnode.
    #[error(
        "vnode_ids lists {ids} distinct ids for {vnodes} vnodes; give one distinct id per vnode or none"
    )]
    VnodeIds {
        /// Distinct ids given.
        ids: usize,
        /// `num_vnodes`.
        vnodes: u16,
    },
    /// The stabilization range is empty or zero.
    #[error(
        "stabilization range {min:?}..={max:?} is invalid; need 0 < stabilize_min <= stabilize_max"
    )]
    StabilizeRange {
        /// The configured minimum.
        min: Duration,
        /// The configured maximum.
        max: Duration,
    },
    /// A successor list of length 0 cannot survive any failure.
    #[error("num_successors is 0; at least 1 is required (8 is the default)")]
    NoSuccessors,
    /// Replicas are placed on the successor list, so they cannot outnumber it.
    #[error("replicas ({replicas}) exceeds num_successors ({successors}); raise num_successors")]
    TooManyReplicas {
        /// Configured replicas.
        replicas: usize,
        /// Configured successor list length.
        successors: usize,
    },
    /// Remote calls and lookups need a positive deadline.
    #[error("rpc_timeout and lookup_timeout must be greater than zero")]
    ZeroTimeout,
    /// Lookups need at least one hop.
    #[error("max_lookup_hops must be at least 1")]
    NoHops,
    /// Event channels need room for at least one event.
    #[error("event_buffer must be at least 1")]
    NoEventBuffer,
}

impl Config {
    /// The Go original's defaults for a node at `host`: 3 vnodes, stabilize every 1-3 s,
    /// 8 successors, 2 replicas.
    pub fn new(host: impl Into<String>) -> Config {
        Config {
            host: host.into(),
            num_vnodes: 3,
            vnode_ids: Vec::new(),
            stabilize_min: Duration::from_secs(1),
            stabilize_max: Duration::from_secs(3),
            num_successors: 8,
            replicas: 2,
            rpc_timeout: Duration::from_secs(2),
            max_lookup_hops: 64,
            lookup_timeout: Duration::from_secs(10),
            event_buffer: 1024,
            rng_seed: None,
        }
    }

    /// Checks every field; `Ring::create` and `Ring::join` call this first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let host_ok = match self.host.rsplit_once(':') {
            Some((name, port)) => !name.is_empty() && port.parse::<u16>().is_ok(),
            None => false,
        };
        if !host_ok {
            return Err(ConfigError::InvalidHost(self.host.clone()));
        }
        if self.num_vnodes == 0 {
            return Err(ConfigError::NoVnodes);
        }
        if !self.vnode_ids.is_empty() {
            let distinct: std::collections::BTreeSet<_> = self.vnode_ids.iter().collect();
            if distinct.len() != usize::from(self.num_vnodes)
                || self.vnode_ids.len() != distinct.len()
            {
                return Err(ConfigError::VnodeIds {
                    ids: distinct.len(),
                    vnodes: self.num_vnodes,
                });
            }
        }
        if self.stabilize_min.is_zero() || self.stabilize_min > self.stabilize_max {
            return Err(ConfigError::StabilizeRange {
                min: self.stabilize_min,
                max: self.stabilize_max,
            });
        }
        if self.num_successors == 0 {
            return Err(ConfigError::NoSuccessors);
        }
        if self.replicas > self.num_successors {
            return Err(ConfigError::TooManyReplicas {
                replicas: self.replicas,
                successors: self.num_successors,
            });
        }
        if self.rpc_timeout.is_zero() || self.lookup_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.max_lookup_hops == 0 {
            return Err(ConfigError::NoHops);
        }
        if self.event_buffer == 0 {
            return Err(ConfigError::NoEventBuffer);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_go_originals_and_valid() {
        let c = Config::new("127.0.0.1:5000");
        assert_eq!(c.num_vnodes, 3);
        assert_eq!(c.num_successors, 8);
        assert_eq!(c.replicas, 2);
        assert_eq!(c.stabilize_min, Duration::from_secs(1));
        assert_eq!(c.stabilize_max, Duration::from_secs(3));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn invalid_settings_are_typed_errors() {
        let base = Config::new("127.0.0.1:5000");
        type Change = Box<dyn Fn(&mut Config)>;
        type Expect = fn(&ConfigError) -> bool;
        let cases: Vec<(Change, Expect)> = vec![
            (Box::new(|c| c.num_vnodes = 0), |e| {
                matches!(e, ConfigError::NoVnodes)
            }),
            (
                Box::new(|c| c.stabilize_min = Duration::from_secs(5)),
                |e| matches!(e, ConfigError::StabilizeRange { .. }),
            ),
            (Box::new(|c| c.stabilize_min = Duration::ZERO), |e| {
                matches!(e, ConfigError::StabilizeRange { .. })
            }),
            (Box::new(|c| c.num_successors = 0), |e| {
                matches!(e, ConfigError::NoSuccessors)
            }),
            (Box::new(|c| c.replicas = 9), |e| {
                matches!(e, ConfigError::TooManyReplicas { .. })
            }),
            (Box::new(|c| c.host = "nohost".into()), |e| {
                matches!(e, ConfigError::InvalidHost(_))
            }),
            (Box::new(|c| c.host = "h:99999".into()), |e| {
                matches!(e, ConfigError::InvalidHost(_))
            }),
            (Box::new(|c| c.rpc_timeout = Duration::ZERO), |e| {
                matches!(e, ConfigError::ZeroTimeout)
            }),
            (Box::new(|c| c.lookup_timeout = Duration::ZERO), |e| {
                matches!(e, ConfigError::ZeroTimeout)
            }),
            (Box::new(|c| c.max_lookup_hops = 0), |e| {
                matches!(e, ConfigError::NoHops)
            }),
            (Box::new(|c| c.event_buffer = 0), |e| {
                matches!(e, ConfigError::NoEventBuffer)
            }),
            (Box::new(|c| c.vnode_ids = vec![crate::Id::ZERO; 3]), |e| {
                matches!(e, ConfigError::VnodeIds { ids: 1, vnodes: 3 })
            }),
            (Box::new(|c| c.vnode_ids = vec![crate::Id::ZERO]), |e| {
                matches!(e, ConfigError::VnodeIds { ids: 1, vnodes: 3 })
            }),
        ];
        for (change, expected) in cases {
            let mut c = base.clone();
            change(&mut c);
            let err = c.validate().expect_err("invalid config accepted");
            assert!(expected(&err), "unexpected error {err:?}");
        }
    }
}
