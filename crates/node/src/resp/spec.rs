//! The one table of the commands Dendrite serves.
//!
//! Name lookup, arity and subcommand checks while parsing, the `no_auth` gate, `COMMAND`,
//! `COMMAND INFO`, `COMMAND DOCS`, `COMMAND COUNT` and `COMMAND GETKEYS` all read [`COMMANDS`],
//! so what a client is told about a command is what the parser enforces. Arity, flags, ACL
//! categories, tips and key positions are Redis 7's own for the commands Redis has.

use bytes::Bytes;

use super::Reply;

/// Where a command's keys are, in Redis's legacy (first, last, step) form plus the flags of
/// its key specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPositions {
    /// Index of the first key (the command name is 0).
    pub first: i32,
    /// Index of the last key; negative counts from the end (-1: the last argument).
    pub last: i32,
    /// Distance between keys (2 for `MSET key value ...`).
    pub step: i32,
    /// Key-spec flags (`RO`, `access`...), as `COMMAND INFO` lists them.
    pub flags: &'static [&'static str],
    /// Key-spec notes, where Redis has some.
    pub notes: Option<&'static str>,
    /// Redis's key specifications when it has several (RENAME's source and destination have
    /// different flags); empty: the one specification `first`, `last`, `step` and `flags` say.
    pub specs: &'static [KeySpec],
}

/// One of several key specifications: the keys from argument `index` to `lastkey` (relative
/// to `index`, or negative from the end) every `keystep`, with their flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Index of the first key.
    pub index: i32,
    /// Last key, relative to `index`; negative counts from the end.
    pub lastkey: i32,
    /// Distance between keys.
    pub keystep: i32,
    /// Key-spec flags.
    pub flags: &'static [&'static str],
}

/// What `COMMAND DOCS` says of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDocs {
    /// One line saying what it does.
    pub summary: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// Redis's command group (`string`, `connection`...).
    pub group: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
}

/// One command or subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lowercase name; a subcommand is `container|sub` as Redis names it.
    pub name: &'static str,
    /// Redis's convention: positive is the exact argument count including the name (and the
    /// subcommand), negative a minimum.
    pub arity: i32,
    /// Command flags (`readonly`, `fast`, `no_auth`...).
    pub flags: &'static [&'static str],
    /// ACL categories.
    pub acl: &'static [&'static str],
    /// Hints for clients and proxies (`request_policy:...`).
    pub tips: &'static [&'static str],
    /// Key positions; `None` for commands without keys.
    pub keys: Option<KeyPositions>,
    /// `COMMAND DOCS` fields.
    pub docs: CommandDocs,
    /// Subcommands, for containers such as `CLIENT`.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether `argc` arguments (the name included) fit this command's arity.
    pub fn arity_fits(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether the command has the flag `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The subcommand `sub` (any letter case) of this container.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|spec| {
            spec.name
                .split_once('|')
                .is_some_and(|(_, name)| sub.eq_ignore_ascii_case(name.as_bytes()))
        })
    }

    /// The keys of a request for this command (`COMMAND GETKEYS`), or Redis's error.
    pub fn keys_of<'a>(&self, args: &'a [Bytes]) -> Result<Vec<&'a Bytes>, Reply> {
        if !self.arity_fits(args.len()) {
            return Err(Reply::err(
                "Invalid number of arguments specified for command",
            ));
        }
        let Some(keys) = self.keys else {
            return Err(Reply::err("The command has no key arguments"));
        };
        let argc = i64::try_from(args.len()).unwrap_or(i64::MAX);
        let last = if keys.last < 0 {
            argc + i64::from(keys.last)
        } else {
            i64::from(keys.last)
        };
        let step = usize::try_from(keys.step.max(1)).unwrap_or(1);
        let first = usize::try_from(keys.first).unwrap_or(usize::MAX);
        let last = usize::try_from(last).unwrap_or(0);
        let found: Vec<&Bytes> = (first..=last)
            .step_by(step)
            .filter_map(|index| args.get(index))
            .collect();
        if (last + 1 - first.min(last + 1)) % step != 0 {
            // MSET with a key but no value: Redis checks the step too.
            return Err(Reply::err(
                "Invalid number of arguments specified for command",
            ));
        }
        Ok(found)
    }

    /// The `COMMAND INFO` entry: name, arity, flags, first key, last key, step, ACL
    /// categories, tips, key specifications, subcommands.
    pub fn info_reply(&self) -> Reply {
        let statuses = |words: &[&str]| {
            Reply::Set(
                words
                    .iter()
                    .map(|word| Reply::Simple((*word).into()))
                    .collect(),
            )
        };
        let (first, last, step) = self
            .keys
            .map_or((0, 0, 0), |keys| (keys.first, keys.last, keys.step));
        let key_spec =
            |notes: Option<&str>, flags: &[&str], index: i32, lastkey: i32, step: i32| {
                let mut spec = Vec::with_capacity(4);
                if let Some(notes) = notes {
                    spec.push((Reply::text("notes"), Reply::text(notes)));
                }
                spec.push((Reply::text("flags"), statuses(flags)));
                spec.push((
                    Reply::text("begin_search"),
                    Reply::Map(vec![
                        (Reply::text("type"), Reply::text("index")),
                        (
                            Reply::text("spec"),
                            Reply::Map(vec![(Reply::text("index"), integer(index))]),
                        ),
                    ]),
                ));
                spec.push((
                    Reply::text("find_keys"),
                    Reply::Map(vec![
                        (Reply::text("type"), Reply::text("range")),
                        (
                            Reply::text("spec"),
                            Reply::Map(vec![
                                (Reply::text("lastkey"), integer(lastkey)),
                                (Reply::text("keystep"), integer(step)),
                                (Reply::text("limit"), Reply::Integer(0)),
                            ]),
                        ),
                    ]),
                ));
                Reply::Map(spec)
            };
        let key_specs: Vec<Reply> = match self.keys {
            None => Vec::new(),
            Some(keys) if keys.specs.is_empty() => {
                // Redis's key-spec `lastkey` is relative to the first key unless negative.
                let lastkey = if keys.last < 0 {
                    keys.last
                } else {
                    keys.last - keys.first
                };
                vec![key_spec(
                    keys.notes, keys.flags, keys.first, lastkey, keys.step,
                )]
            }
            Some(keys) => keys
                .specs
                .iter()
                .map(|s| key_spec(None, s.flags, s.index, s.lastkey, s.keystep))
                .collect(),
        };
        Reply::Array(vec![
            Reply::text(self.name),
            integer(self.arity),
            statuses(self.flags),
            integer(first),
            integer(last),
            integer(step),
            statuses(self.acl),
            Reply::Set(self.tips.iter().map(|tip| Reply::text(tip)).collect()),
            Reply::Set(key_specs),
            Reply::Set(
                self.subcommands
                    .iter()
                    .map(CommandSpec::info_reply)
                    .collect(),
            ),
        ])
    }

    /// The `COMMAND DOCS` entry (without Redis's argument trees and history, see
    /// docs/redis-compat.md).
    pub fn docs_reply(&self) -> Reply {
        let mut fields = vec![
            (Reply::text("summary"), Reply::text(self.docs.summary)),
            (Reply::text("since"), Reply::text(self.docs.since)),
            (Reply::text("group"), Reply::text(self.docs.group)),
            (Reply::text("complexity"), Reply::text(self.docs.complexity)),
        ];
        if !self.subcommands.is_empty() {
            fields.push((
                Reply::text("subcommands"),
                Reply::Map(
                    self.subcommands
                        .iter()
                        .map(|sub| (Reply::text(sub.name), sub.docs_reply()))
                        .collect(),
                ),
            ));
        }
        Reply::Map(fields)
    }
}

fn integer(value: i32) -> Reply {
    Reply::Integer(i64::from(value))
}

/// The top-level command named `name` (any letter case), aliases included.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.eq_ignore_ascii_case(b"dendrite.consistency") {
        return lookup(b"consistency");
    }
    COMMANDS
        .iter()
        .find(|spec| name.eq_ignore_ascii_case(spec.name.as_bytes()))
}

/// The name Redis shows for a request in `CLIENT LIST`'s `cmd=`: `get`, `client|info`.
pub fn full_name(args: &[Bytes]) -> Option<&'static str> {
    let spec = lookup(args.first()?)?;
    if spec.subcommands.is_empty() {
        return Some(spec.name);
    }
    Some(
        args.get(1)
            .and_then(|sub| spec.subcommand(sub))
            .map_or(spec.name, |sub| sub.name),
    )
}

const CONNECTION_FAST: &[&str] = &["@fast", "@connection"];
const SLOW_CONNECTION: &[&str] = &["@slow", "@connection"];
const ADMIN_CONNECTION: &[&str] = &["@admin", "@slow", "@dangerous", "@connection"];
const NOSCRIPT_LOADING_STALE: &[&str] = &["noscript", "loading", "stale"];
const LOADING_STALE: &[&str] = &["loading", "stale"];
const LOADING_STALE_FAST: &[&str] = &["loading", "stale", "fast"];
const AUTH_FLAGS: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];
const ADMIN_NOSCRIPT: &[&str] = &["admin", "noscript", "loading", "stale"];

const fn docs(
    summary: &'static str,
    since: &'static str,
    group: &'static str,
    complexity: &'static str,
) -> CommandDocs {
    CommandDocs {
        summary,
        since,
        group,
        complexity,
    }
}

const fn keys(first: i32, last: i32, step: i32, flags: &'static [&'static str]) -> KeyPositions {
    KeyPositions {
        first,
        last,
        step,
        flags,
        notes: None,
        specs: &[],
    }
}

/// A string command that reads and rewrites one key at once, as Redis 7 describes INCR and
/// its family (write, denyoom, fast; the key read and updated in place).
const fn string_update(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    since: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: &["write", "denyoom", "fast"],
        acl: &["@write", "@string", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RW", "access", "update"])),
        docs: docs(summary, since, "string", "O(1)"),
        subcommands: &[],
    }
}

/// GETRANGE's and SUBSTR's complexity, as Redis words it.
const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The \
     complexity is ultimately determined by the returned length, but because creating a \
     substring from an existing string is very cheap, it can be considered O(1) for small \
     strings.";

/// A command without keys or subcommands.
/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT and PERSIST: keyspace writes of one key's deadline.
const fn deadline_write(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    since: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: &["write", "fast"],
        acl: &["@keyspace", "@write", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RW", "update"])),
        docs: docs(summary, since, "generic", "O(1)"),
        subcommands: &[],
    }
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME: reads of one key's deadline (the relative ones are
/// `nondeterministic_output`, as in Redis).
const fn deadline_read(
    name: &'static str,
    summary: &'static str,
    since: &'static str,
    tips: &'static [&'static str],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: 2,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        tips,
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs(summary, since, "generic", "O(1)"),
        subcommands: &[],
    }
}

/// SETEX and PSETEX.
const fn set_expiring(
    name: &'static str,
    summary: &'static str,
    since: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: 4,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["OW", "update"])),
        docs: docs(summary, since, "string", "O(1)"),
        subcommands: &[],
    }
}

const fn plain(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    tips: &'static [&'static str],
    docs: CommandDocs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        tips,
        keys: None,
        docs,
        subcommands: &[],
    }
}

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
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

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
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

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[plain(
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

const STALE: &[&str] = &["stale"];
const SLOW: &[&str] = &["@slow"];
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];
const CLUSTER: &str = "cluster";

/// The `CLUSTER` subcommands served (Redis 7's flags and arity); the ones that change slot
/// assignment are refused with a word on why (`super::cluster`).
const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
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

/// Every command Dendrite serves.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        acl: &["@read", "@string", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs("Get the value of a key", "1.0.0", "string", "O(1)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        tips: &[],
        keys: Some(KeyPositions {
            notes: Some("RW and ACCESS due to the optional `GET` argument"),
            ..keys(1, 1, 1, &["RW", "access", "update", "variable_flags"])
        }),
        docs: docs("Set the string value of a key", "1.0.0", "string", "O(1)"),
        subcommands: &[],
    },
    string_update("incr", 2, "Increment the integer value of a key by one", "1.0.0"),
    string_update("decr", 2, "Decrement the integer value of a key by one", "1.0.0"),
    string_update("incrby", 3, "Increment the integer value of a key by the given amount", "1.0.0"),
    string_update("decrby", 3, "Decrement the integer value of a key by the given number", "1.0.0"),
    string_update("incrbyfloat", 3, "Increment the float value of a key by the given amount", "2.6.0"),
    CommandSpec {
        name: "append",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl: &["@write", "@string", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RW", "insert"])),
        docs: docs(
            "Append a value to a key",
            "2.0.0",
            "string",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small \
             and the already present value is of any size, since the dynamic string library \
             used by Redis will double the free space available on every reallocation.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl: &["@write", "@string", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["OW", "insert"])),
        docs: docs(
            "Set the value of a key, only if the key does not exist",
            "1.0.0",
            "string",
            "O(1)",
        ),
        subcommands: &[],
    },
    string_update("getset", 3, "Set the string value of a key and return its old value", "1.0.0"),
    set_expiring("setex", "Set the value and expiration of a key", "2.0.0"),
    set_expiring("psetex", "Set the value and expiration in milliseconds of a key", "2.6.0"),
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: &["write", "fast"],
        acl: &["@write", "@string", "@fast"],
        tips: &[],
        keys: Some(KeyPositions {
            notes: Some("RW and UPDATE because it changes the TTL"),
            ..keys(1, 1, 1, &["RW", "access", "update"])
        }),
        docs: docs(
            "Get the value of a key and optionally set its expiration",
            "6.2.0",
            "string",
            "O(1)",
        ),
        subcommands: &[],
    },
    deadline_write("expire", -3, "Set a key's time to live in seconds", "1.0.0"),
    deadline_write("pexpire", -3, "Set a key's time to live in milliseconds", "2.6.0"),
    deadline_write("expireat", -3, "Set the expiration for a key as a UNIX timestamp", "1.2.0"),
    deadline_write(
        "pexpireat",
        -3,
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "2.6.0",
    ),
    deadline_write("persist", 2, "Remove the expiration from a key", "2.2.0"),
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        keys: Some(keys(1, -1, 2, &["OW", "insert"])),
        docs: docs(
            "Set multiple keys to multiple values, only if none of the keys exist",
            "1.0.1",
            "string",
            "O(N) where N is the number of keys to set.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: &["write"],
        acl: &["@keyspace", "@write", "@slow"],
        tips: &[],
        keys: Some(KeyPositions {
            specs: &[
                KeySpec { index: 1, lastkey: 0, keystep: 1, flags: &["RW", "access", "delete"] },
                KeySpec { index: 2, lastkey: 0, keystep: 1, flags: &["OW", "update"] },
            ],
            ..keys(1, 2, 1, &[])
        }),
        docs: docs("Rename a key", "1.0.0", "generic", "O(1)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: &["write", "fast"],
        acl: &["@keyspace", "@write", "@fast"],
        tips: &[],
        keys: Some(KeyPositions {
            specs: &[
                KeySpec { index: 1, lastkey: 0, keystep: 1, flags: &["RW", "access", "delete"] },
                KeySpec { index: 2, lastkey: 0, keystep: 1, flags: &["OW", "insert"] },
            ],
            ..keys(1, 2, 1, &[])
        }),
        docs: docs(
            "Rename a key, only if the new key does not exist",
            "1.0.0",
            "generic",
            "O(1)",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@keyspace", "@write", "@slow"],
        tips: &[],
        keys: Some(KeyPositions {
            specs: &[
                KeySpec { index: 1, lastkey: 0, keystep: 1, flags: &["RO", "access"] },
                KeySpec { index: 2, lastkey: 0, keystep: 1, flags: &["OW", "update"] },
            ],
            ..keys(1, 2, 1, &[])
        }),
        docs: docs(
            "Copy a key",
            "6.2.0",
            "generic",
            "O(N) worst case for collections, where N is the number of nested items. O(1) for \
             string values.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "bitop",
        arity: -4,
        flags: &["write", "denyoom"],
        acl: &["@write", "@bitmap", "@slow"],
        tips: &[],
        keys: Some(KeyPositions {
            specs: &[
                KeySpec { index: 2, lastkey: 0, keystep: 1, flags: &["OW", "update"] },
                KeySpec { index: 3, lastkey: -1, keystep: 1, flags: &["RO", "access"] },
            ],
            ..keys(2, -1, 1, &[])
        }),
        docs: docs("Perform bitwise operations between strings", "2.6.0", "bitmap", "O(N)"),
        subcommands: &[],
    },
    deadline_read(
        "ttl",
        "Get the time to live for a key in seconds",
        "1.0.0",
        &["nondeterministic_output"],
    ),
    deadline_read(
        "pttl",
        "Get the time to live for a key in milliseconds",
        "2.6.0",
        &["nondeterministic_output"],
    ),
    deadline_read("expiretime", "Get the expiration Unix timestamp for a key", "7.0.0", &[]),
    deadline_read(
        "pexpiretime",
        "Get the expiration Unix timestamp for a key in milliseconds",
        "7.0.0",
        &[],
    ),
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: &["write", "fast"],
        acl: &["@write", "@string", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RW", "access", "delete"])),
        docs: docs(
            "Get the value of a key and delete the key",
            "6.2.0",
            "string",
            "O(1)",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: &["readonly", "fast"],
        acl: &["@read", "@string", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO"])),
        docs: docs(
            "Get the length of the value stored in a key",
            "2.2.0",
            "string",
            "O(1)",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: &["readonly"],
        acl: &["@read", "@string", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs("Get a substring of the string stored at a key", "2.4.0", "string", RANGE_COMPLEXITY),
        subcommands: &[],
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: &["readonly"],
        acl: &["@read", "@string", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs("Get a substring of the string stored at a key", "1.0.0", "string", RANGE_COMPLEXITY),
        subcommands: &[],
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RW", "update"])),
        docs: docs(
            "Overwrite part of a string at key starting at the specified offset",
            "2.2.0",
            "string",
            "O(1), not counting the time taken to copy the new string in place. Usually, this \
             string is very small so the amortized complexity is O(1). Otherwise, complexity is \
             O(M) with M being the length of the value argument.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "getbit",
        arity: 3,
        flags: &["readonly", "fast"],
        acl: &["@read", "@bitmap", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs("Returns the bit value at offset in the string value stored at key", "2.2.0", "bitmap", "O(1)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "setbit",
        arity: 4,
        flags: &["write", "denyoom"],
        acl: &["@write", "@bitmap", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RW", "access", "update"])),
        docs: docs("Sets or clears the bit at offset in the string value stored at key", "2.2.0", "bitmap", "O(1)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "bitcount",
        arity: -2,
        flags: &["readonly"],
        acl: &["@read", "@bitmap", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs("Count set bits in a string", "2.6.0", "bitmap", "O(N)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "bitpos",
        arity: -3,
        flags: &["readonly"],
        acl: &["@read", "@bitmap", "@slow"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO", "access"])),
        docs: docs("Find first bit set or clear in a string", "2.8.7", "bitmap", "O(N)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "lcs",
        arity: -3,
        flags: &["readonly"],
        acl: &["@read", "@string", "@slow"],
        tips: &[],
        keys: Some(keys(1, 2, 1, &["RO", "access"])),
        docs: docs(
            "Find longest common substring",
            "7.0.0",
            "string",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        ),
        subcommands: &[],
    },
    plain(
        "randomkey",
        1,
        &["readonly"],
        &["@keyspace", "@read", "@slow"],
        &["request_policy:all_shards", "nondeterministic_output"],
        docs("Return a random key from the keyspace", "1.0.0", "generic", "O(1)"),
    ),
    CommandSpec {
        name: "del",
        arity: -2,
        flags: &["write"],
        acl: &["@keyspace", "@write", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: Some(keys(1, -1, 1, &["RM", "delete"])),
        docs: docs(
            "Delete a key",
            "1.0.0",
            "generic",
            "O(N) where N is the number of keys that will be removed. When a key to remove holds \
             a value other than a string, the individual complexity for this key is O(M) where M \
             is the number of elements in the list, set, sorted set or hash. Removing a single \
             key that holds a string value is O(1).",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: Some(keys(1, -1, 1, &["RO"])),
        docs: docs(
            "Determine if a key exists",
            "1.0.0",
            "generic",
            "O(N) where N is the number of keys to check.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: &["readonly", "fast"],
        acl: &["@read", "@string", "@fast"],
        tips: &["request_policy:multi_shard"],
        keys: Some(keys(1, -1, 1, &["RO", "access"])),
        docs: docs(
            "Get the values of all the given keys",
            "1.0.0",
            "string",
            "O(N) where N is the number of keys to retrieve.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        acl: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:all_succeeded"],
        keys: Some(keys(1, -1, 2, &["OW", "update"])),
        docs: docs(
            "Set multiple keys to multiple values",
            "1.0.1",
            "string",
            "O(N) where N is the number of keys to set.",
        ),
        subcommands: &[],
    },
    plain(
        "ping",
        -1,
        &["fast"],
        CONNECTION_FAST,
        &["request_policy:all_shards", "response_policy:all_succeeded"],
        docs("Ping the server", "1.0.0", "connection", "O(1)"),
    ),
    plain(
        "echo",
        2,
        LOADING_STALE_FAST,
        CONNECTION_FAST,
        &[],
        docs("Echo the given string", "1.0.0", "connection", "O(1)"),
    ),
    plain(
        "scan",
        -2,
        &["readonly"],
        &["@keyspace", "@read", "@slow"],
        &["nondeterministic_output", "request_policy:special"],
        docs(
            "Incrementally iterate the keys space",
            "2.8.0",
            "generic",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls \
             for the cursor to return back to 0. N is the number of elements inside the \
             collection.",
        ),
    ),
    plain(
        "keys",
        2,
        &["readonly"],
        &["@keyspace", "@read", "@slow", "@dangerous"],
        &["request_policy:all_shards", "nondeterministic_output_order"],
        docs(
            "Find all keys matching the given pattern",
            "1.0.0",
            "generic",
            "O(N) with N being the number of keys in the database, under the assumption that \
             the key names in the database and the given pattern have limited length.",
        ),
    ),
    CommandSpec {
        name: "type",
        arity: 2,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        tips: &[],
        keys: Some(keys(1, 1, 1, &["RO"])),
        docs: docs("Determine the type stored at key", "1.0.0", "generic", "O(1)"),
        subcommands: &[],
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: &["readonly", "fast"],
        acl: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: Some(keys(1, -1, 1, &["RO"])),
        docs: docs(
            "Alters the last access time of a key(s). Returns the number of existing keys \
             specified.",
            "3.2.1",
            "generic",
            "O(N) where N is the number of keys that will be touched.",
        ),
        subcommands: &[],
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: &["write", "fast"],
        acl: &["@keyspace", "@write", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: Some(keys(1, -1, 1, &["RM", "delete"])),
        docs: docs(
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non \
             blocking.",
            "4.0.0",
            "generic",
            "O(1) for each key removed regardless of its size. Then the command does O(N) work \
             in a different thread in order to reclaim memory, where N is the number of \
             allocations the deleted objects where composed of.",
        ),
        subcommands: &[],
    },
    plain(
        "flushall",
        -1,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        &["request_policy:all_shards", "response_policy:all_succeeded"],
        docs(
            "Remove all keys from all databases",
            "1.0.0",
            "server",
            "O(N) where N is the total number of keys in all databases",
        ),
    ),
    plain(
        "flushdb",
        -1,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        &["request_policy:all_shards", "response_policy:all_succeeded"],
        docs(
            "Remove all keys from the current database",
            "1.0.0",
            "server",
            "O(N) where N is the number of keys in the selected database",
        ),
    ),
    plain(
        "dbsize",
        1,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        &["request_policy:all_shards", "response_policy:agg_sum"],
        docs("Return the number of keys in the selected database", "1.0.0", "server", "O(1)"),
    ),
    plain(
        "info",
        -1,
        LOADING_STALE,
        &["@slow", "@dangerous"],
        &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        docs("Get information and statistics about the server", "1.0.0", "server", "O(1)"),
    ),
    CommandSpec {
        subcommands: COMMAND_SUBCOMMANDS,
        ..plain(
            "command",
            -1,
            LOADING_STALE,
            SLOW_CONNECTION,
            &["nondeterministic_output_order"],
            docs("Get array of Redis command details", "2.8.13", "server", "O(N) where N is the total number of Redis commands"),
        )
    },
    plain(
        "quit",
        -1,
        AUTH_FLAGS,
        CONNECTION_FAST,
        &[],
        docs("Close the connection", "1.0.0", "connection", "O(1)"),
    ),
    plain(
        "select",
        2,
        LOADING_STALE_FAST,
        CONNECTION_FAST,
        &[],
        docs("Change the selected database for the current connection", "1.0.0", "connection", "O(1)"),
    ),
    CommandSpec {
        subcommands: CLIENT_SUBCOMMANDS,
        ..plain(
            "client",
            -2,
            &[],
            &["@slow"],
            &[],
            docs("A container for client connection commands", "2.4.0", "connection", "Depends on subcommand."),
        )
    },
    plain(
        "hello",
        -1,
        AUTH_FLAGS,
        CONNECTION_FAST,
        &[],
        docs("Handshake with Redis", "6.0.0", "connection", "O(1)"),
    ),
    plain(
        "auth",
        -2,
        AUTH_FLAGS,
        CONNECTION_FAST,
        &[],
        docs("Authenticate to the server", "1.0.0", "connection", "O(N) where N is the number of passwords defined for the user"),
    ),
    CommandSpec {
        subcommands: CONFIG_SUBCOMMANDS,
        ..plain(
            "config",
            -2,
            &[],
            &["@slow"],
            &[],
            docs("A container for server configuration commands", "2.0.0", "server", "Depends on subcommand."),
        )
    },
    plain(
        "reset",
        1,
        AUTH_FLAGS,
        CONNECTION_FAST,
        &[],
        docs("Reset the connection", "6.2.0", "connection", "O(1)"),
    ),
    plain(
        "time",
        1,
        LOADING_STALE_FAST,
        &["@fast"],
        &["nondeterministic_output"],
        docs("Return the current server time", "2.6.0", "server", "O(1)"),
    ),
    CommandSpec {
        subcommands: CLUSTER_SUBCOMMANDS,
        ..plain(
            "cluster",
            -2,
            &[],
            SLOW,
            &[],
            docs("A container for cluster commands", "3.0.0", CLUSTER, "Depends on subcommand."),
        )
    },
    plain(
        "readonly",
        1,
        LOADING_STALE_FAST,
        CONNECTION_FAST,
        &[],
        docs("Enables read queries for a connection to a cluster replica node", "3.0.0", CLUSTER, "O(1)"),
    ),
    plain(
        "readwrite",
        1,
        LOADING_STALE_FAST,
        CONNECTION_FAST,
        &[],
        docs("Disables read queries for a connection to a cluster replica node", "3.0.0", CLUSTER, "O(1)"),
    ),
    plain(
        "asking",
        1,
        &["fast"],
        CONNECTION_FAST,
        &[],
        docs("Sent by cluster clients after an -ASK redirect", "3.0.0", CLUSTER, "O(1)"),
    ),
    plain(
        "consistency",
        -1,
        LOADING_STALE_FAST,
        CONNECTION_FAST,
        &[],
        docs(
            "Show or set this connection's read and write consistency (Dendrite; alias DENDRITE.CONSISTENCY)",
            "0.1.0",
            "connection",
            "O(1)",
        ),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut names: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
            .map(|spec| spec.name)
            .collect();
        assert!(names.iter().all(|name| name.to_lowercase() == *name));
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn finds_keys_like_command_getkeys() {
        let spec = |name: &str| lookup(name.as_bytes()).unwrap();
        let request = args(&["mset", "a", "1", "b", "2"]);
        assert_eq!(
            spec("MSET").keys_of(&request).unwrap(),
            vec![&request[1], &request[3]]
        );
        let request = args(&["del", "a", "b"]);
        assert_eq!(spec("del").keys_of(&request).unwrap().len(), 2);
        let request = args(&["get", "a", "b"]);
        assert_eq!(
            spec("get").keys_of(&request),
            Err(Reply::err(
                "Invalid number of arguments specified for command"
            ))
        );
        let request = args(&["ping", "x"]);
        assert_eq!(
            spec("ping").keys_of(&request),
            Err(Reply::err("The command has no key arguments"))
        );
    }

    #[test]
    fn resolves_subcommands_and_aliases() {
        let client = lookup(b"CLIENT").unwrap();
        assert_eq!(
            client.subcommand(b"SetName").map(|s| s.name),
            Some("client|setname")
        );
        assert!(client.subcommand(b"kill").is_none());
        assert_eq!(
            lookup(b"Dendrite.Consistency").map(|s| s.name),
            Some("consistency")
        );
        assert_eq!(full_name(&args(&["client", "info"])), Some("client|info"));
        assert_eq!(full_name(&args(&["get", "k"])), Some("get"));
    }
}
