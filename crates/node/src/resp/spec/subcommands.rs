//! The subcommands of the containers Dendrite serves: `CLIENT`, `COMMAND`, `CONFIG`,
//! `CLUSTER`.

use super::shapes::*;
use super::CommandSpec;

pub(super) const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    plain(
        "client|id",
        2,
        NOSCRIPT_LOADING_STALE,
        SLOW_CONNECTION,
        &[],
        docs("Returns the client ID for the current connection", "5.0.0", "connection", "O(1)"),
    ),
    plain(
        "client|info",
        2,
        NOSCRIPT_LOADING_STALE,
        SLOW_CONNECTION,
        &["nondeterministic_output"],
        docs("Returns information about the current client connection.", "6.2.0", "connection", "O(1)"),
    ),
    plain(
        "client|list",
        -2,
        ADMIN_NOSCRIPT,
        ADMIN_CONNECTION,
        &["nondeterministic_output"],
        docs("Get the list of client connections", "2.4.0", "connection", "O(N) where N is the number of client connections"),
    ),
    plain(
        "client|getname",
        2,
        NOSCRIPT_LOADING_STALE,
        SLOW_CONNECTION,
        &[],
        docs("Get the current connection name", "2.6.9", "connection", "O(1)"),
    ),
    plain(
        "client|setname",
        3,
        NOSCRIPT_LOADING_STALE,
        SLOW_CONNECTION,
        &[],
        docs("Set the current connection name", "2.6.9", "connection", "O(1)"),
    ),
    plain(
        "client|setinfo",
        4,
        NOSCRIPT_LOADING_STALE,
        SLOW_CONNECTION,
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
        docs("Set client or connection specific info", "7.2.0", "connection", "O(1)"),
    ),
    plain(
        "client|no-evict",
        3,
        ADMIN_NOSCRIPT,
        ADMIN_CONNECTION,
        &[],
        docs("Set client eviction mode for the current connection", "7.0.0", "connection", "O(1)"),
    ),
    plain(
        "client|no-touch",
        3,
        NOSCRIPT_LOADING_STALE,
        SLOW_CONNECTION,
        &[],
        docs("Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.", "7.2.0", "connection", "O(1)"),
    ),
];

pub(super) const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    plain(
        "command|docs",
        -2,
        LOADING_STALE,
        SLOW_CONNECTION,
        &["nondeterministic_output_order"],
        docs(
            "Get array of specific Redis command documentation",
            "7.0.0",
            "server",
            "O(N) where N is the number of commands to look up",
        ),
    ),
    plain(
        "command|count",
        2,
        LOADING_STALE,
        SLOW_CONNECTION,
        &[],
        docs(
            "Get total number of Redis commands",
            "2.8.13",
            "server",
            "O(1)",
        ),
    ),
    plain(
        "command|info",
        -2,
        LOADING_STALE,
        SLOW_CONNECTION,
        &["nondeterministic_output_order"],
        docs(
            "Get array of specific Redis command details, or all when no argument is given.",
            "2.8.13",
            "server",
            "O(N) where N is the number of commands to look up",
        ),
    ),
    plain(
        "command|getkeys",
        -4,
        LOADING_STALE,
        SLOW_CONNECTION,
        &[],
        docs(
            "Extract keys given a full Redis command",
            "2.8.13",
            "server",
            "O(N) where N is the number of arguments to the command",
        ),
    ),
];

pub(super) const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[plain(
    "config|get",
    -3,
    ADMIN_NOSCRIPT,
    &["@admin", "@slow", "@dangerous"],
    &[],
    docs(
        "Get the values of configuration parameters",
        "2.0.0",
        "server",
        "O(N) when N is the number of configuration parameters provided",
    ),
)];

pub(super) const STALE: &[&str] = &["stale"];
pub(super) const SLOW: &[&str] = &["@slow"];
pub(super) const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];
pub(super) const CLUSTER: &str = "cluster";

/// The `CLUSTER` subcommands served (Redis 7's flags and arity); the ones that change slot
/// assignment are refused with a word on why (`super::cluster`).
pub(super) const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    plain(
        "cluster|slots",
        2,
        STALE,
        SLOW,
        NONDETERMINISTIC,
        docs(
            "Get array of Cluster slot to node mappings",
            "3.0.0",
            CLUSTER,
            "O(N) where N is the total number of Cluster nodes",
        ),
    ),
    plain(
        "cluster|shards",
        2,
        STALE,
        SLOW,
        NONDETERMINISTIC,
        docs(
            "Get array of cluster slots to node mappings",
            "7.0.0",
            CLUSTER,
            "O(N) where N is the total number of cluster nodes",
        ),
    ),
    plain(
        "cluster|nodes",
        2,
        STALE,
        SLOW,
        NONDETERMINISTIC,
        docs(
            "Get Cluster config for the node",
            "3.0.0",
            CLUSTER,
            "O(N) where N is the total number of Cluster nodes",
        ),
    ),
    plain(
        "cluster|myid",
        2,
        STALE,
        SLOW,
        &[],
        docs("Return the node id", "3.0.0", CLUSTER, "O(1)"),
    ),
    plain(
        "cluster|myshardid",
        2,
        STALE,
        SLOW,
        NONDETERMINISTIC,
        docs("Return the node shard id", "7.2.0", CLUSTER, "O(1)"),
    ),
    plain(
        "cluster|info",
        2,
        STALE,
        SLOW,
        NONDETERMINISTIC,
        docs(
            "Provides info about Redis Cluster node state",
            "3.0.0",
            CLUSTER,
            "O(1)",
        ),
    ),
    plain(
        "cluster|keyslot",
        3,
        STALE,
        SLOW,
        &[],
        docs(
            "Returns the hash slot of the specified key",
            "3.0.0",
            CLUSTER,
            "O(N) where N is the number of bytes in the key",
        ),
    ),
    plain(
        "cluster|countkeysinslot",
        3,
        STALE,
        SLOW,
        &[],
        docs(
            "Return the number of local keys in the specified hash slot",
            "3.0.0",
            CLUSTER,
            "O(1)",
        ),
    ),
    plain(
        "cluster|getkeysinslot",
        4,
        STALE,
        SLOW,
        NONDETERMINISTIC,
        docs(
            "Return local key names in the specified hash slot",
            "3.0.0",
            CLUSTER,
            "O(N) where N is the number of requested keys",
        ),
    ),
    plain(
        "cluster|help",
        2,
        LOADING_STALE,
        SLOW,
        &[],
        docs(
            "Show helpful text about the different subcommands",
            "5.0.0",
            CLUSTER,
            "O(1)",
        ),
    ),
];
