//! What many entries of the command table share: flag and category lists, and constructors
//! for the families of commands Redis describes alike.

use super::{CommandDocs, CommandSpec, KeyPositions};

pub(super) const CONNECTION_FAST: &[&str] = &["@fast", "@connection"];
pub(super) const SLOW_CONNECTION: &[&str] = &["@slow", "@connection"];
pub(super) const ADMIN_CONNECTION: &[&str] = &["@admin", "@slow", "@dangerous", "@connection"];
pub(super) const NOSCRIPT_LOADING_STALE: &[&str] = &["noscript", "loading", "stale"];
pub(super) const LOADING_STALE: &[&str] = &["loading", "stale"];
pub(super) const LOADING_STALE_FAST: &[&str] = &["loading", "stale", "fast"];
pub(super) const AUTH_FLAGS: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];
pub(super) const ADMIN_NOSCRIPT: &[&str] = &["admin", "noscript", "loading", "stale"];

pub(super) const fn docs(
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

pub(super) const fn keys(
    first: i32,
    last: i32,
    step: i32,
    flags: &'static [&'static str],
) -> KeyPositions {
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
pub(super) const fn string_update(
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
pub(super) const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The \
     complexity is ultimately determined by the returned length, but because creating a \
     substring from an existing string is very cheap, it can be considered O(1) for small \
     strings.";

/// A command without keys or subcommands.
/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT and PERSIST: keyspace writes of one key's deadline.
pub(super) const fn deadline_write(
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
pub(super) const fn deadline_read(
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
pub(super) const fn set_expiring(
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

pub(super) const fn plain(
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
