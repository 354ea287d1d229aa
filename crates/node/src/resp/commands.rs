//! Turning request argument vectors into replies.
//!
//! [`Command::parse`] is pure (name lookup, arity, subcommands, syntax — all read from the one
//! table in [`super::spec`]) so the Redis wording of every error can be unit tested;
//! [`execute`] performs a parsed command against the [`Backend`] with the connection's
//! [`Session`].

use bytes::Bytes;

use crate::backend::{Backend, BackendError, Consistency};
use crate::metrics::Metrics;

use super::auth::authenticate;
use super::bit_ranges::{bitcount_range, bitpos_range};
use super::parameters;
use super::spec::{self, CommandSpec, COMMANDS};
use super::Reply;

use super::connection::{
    client_reply, hello_reply, is_client_attribute, parse_client_filter, parse_hello, time_reply,
};
pub use super::connection::{ClientCommand, ClientFilter, Hello};
use super::info::info_text;
pub use super::session::{Flow, Session};

/// The Redis version Dendrite answers as (`HELLO`, `INFO`): the commands it serves behave as
/// in this version (`CLIENT SETINFO` and `CLIENT NO-TOUCH` are 7.2's).
pub const REDIS_VERSION: &str = "7.2.0";

/// `COMMAND` and its subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandQuery {
    /// `COMMAND`: every command's details.
    All,
    /// `COMMAND COUNT`
    Count,
    /// `COMMAND INFO [name ...]`
    Info(Vec<Bytes>),
    /// `COMMAND DOCS [name ...]`
    Docs(Vec<Bytes>),
    /// `COMMAND GETKEYS command [arg ...]`
    GetKeys(Vec<Bytes>),
}

/// A request whose name, arity and syntax are valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `PING [message]`
    Ping(Option<Bytes>),
    /// `ECHO message`
    Echo(Bytes),
    /// `GET key`
    Get(Bytes),
    /// `SET key value` (no options)
    Set(Bytes, Bytes),
    /// `SET key value EX|PX|EXAT|PXAT time`, `SETEX`, `PSETEX`: a plain write of a value with
    /// a deadline (Unix ms).
    SetExpiring(Bytes, Bytes, u64),
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME key`
    Deadline(Bytes, super::expiry::DeadlineQuery),
    /// A command that reads and writes one key in one step at its primary (INCR, APPEND,
    /// SETNX, GETSET, GETDEL, SET with NX/XX/GET; see [`strings`](super::strings)).
    Modify {
        /// The key.
        key: Bytes,
        /// What to do to its value.
        op: dtable::Modify,
        /// How the outcome is worded.
        answer: super::strings::Answer,
    },
    /// A command that reads and writes several keys with one primary in one step there
    /// (MSETNX, RENAME, RENAMENX, COPY, BITOP; see [`multikey`](super::multikey)).
    ModifyMany {
        /// The keys, in the roles `op` gives them.
        keys: Vec<Bytes>,
        /// What to do to them.
        op: dtable::ModifyMany,
        /// How the outcome is worded.
        answer: super::strings::Answer,
    },
    /// `STRLEN key`
    Strlen(Bytes),
    /// `GETRANGE key start end` (and `SUBSTR`)
    GetRange(Bytes, i64, i64),
    /// `GETBIT key offset`
    GetBit(Bytes, u64),
    /// `BITPOS key bit [start [end [BYTE|BIT]]]`; as BITCOUNT, the range is read only when
    /// the key exists.
    BitPos(Bytes, bool, Vec<Bytes>),
    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`
    Lcs(Bytes, Bytes, super::lcs::Options),
    /// `RANDOMKEY`
    RandomKey,
    /// `BITCOUNT key [start end [BYTE|BIT]]`; the range is checked when the key exists, as
    /// Redis does (a missing key counts 0 whatever the arguments).
    BitCount(Bytes, Vec<Bytes>),
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
    Scan(super::keyspace::Scan),
    /// `KEYS pattern`
    Keys(Bytes),
    /// `TYPE key`
    Type(Bytes),
    /// `FLUSHALL`/`FLUSHDB [ASYNC|SYNC]`
    FlushAll,
    /// `DEL key [key ...]`
    Del(Vec<Bytes>),
    /// `EXISTS key [key ...]`
    Exists(Vec<Bytes>),
    /// `MGET key [key ...]`
    MGet(Vec<Bytes>),
    /// `MSET key value [key value ...]`
    MSet(Vec<(Bytes, Bytes)>),
    /// `DBSIZE`
    DbSize,
    /// `INFO [section]`
    Info(Option<String>),
    /// `COMMAND [subcommand ...]`
    CommandQuery(CommandQuery),
    /// `QUIT`
    Quit,
    /// `RESET`
    Reset,
    /// `TIME`
    Time,
    /// `SELECT index`
    Select(i64),
    /// `CLIENT subcommand ...`
    Client(ClientCommand),
    /// `HELLO [protover [AUTH user password] [SETNAME name]]`
    Hello(Hello),
    /// `AUTH [user] password`
    Auth {
        /// The user name; only `default` exists.
        user: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// `CONFIG GET parameter [parameter ...]` (glob patterns).
    ConfigGet(Vec<Bytes>),
    /// `CONSISTENCY` (show) or `CONSISTENCY read write` (set).
    Consistency(Option<(u8, u8)>),
    /// `CLUSTER subcommand ...`
    Cluster(super::cluster::ClusterCommand),
    /// `READONLY` (`true`) or `READWRITE` (`false`).
    ReadOnly(bool),
    /// `ASKING`
    Asking,
    /// `SAVE`, `BGSAVE`, `LASTSAVE`
    Snapshot(super::snapshots::SnapshotCommand),
}

/// The canonical lowercase name of a request's command, for metrics;
/// `unknown` if it is not one we serve.
pub fn canonical_name(args: &[Bytes]) -> &'static str {
    args.first()
        .and_then(|name| spec::lookup(name))
        .map_or("unknown", |spec| spec.name)
}

/// Redis's reply to a command it does not know, word for word.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let name = args
        .first()
        .map(|name| String::from_utf8_lossy(name))
        .unwrap_or_default();
    let name: String = name.chars().take(128).collect();
    let mut listed = String::new();
    for arg in args.iter().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let text = String::from_utf8_lossy(arg);
        let mut end = room.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        listed.push('\'');
        listed.push_str(&text[..end]);
        listed.push_str("' ");
    }
    Reply::err(format!(
        "unknown command '{name}', with args beginning with: {listed}"
    ))
}

/// Redis's reply to a subcommand its container does not have (`CLIENT FOO`).
pub(super) fn unknown_subcommand(container: &CommandSpec, sub: &[u8]) -> Reply {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    Reply::err(format!(
        "unknown subcommand '{sub}'. Try {} HELP.",
        container.name.to_ascii_uppercase()
    ))
}

pub(super) fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

pub(super) fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

pub(super) fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

/// A decimal integer as Redis's `string2ll` reads it: no sign but `-`, no spaces.
pub(super) fn parse_integer(arg: &[u8]) -> Option<i64> {
    if arg.first() == Some(&b'+') {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

pub(super) fn eq_ignore_case(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

impl Command {
    /// Validates a request (name first); an `Err` is the reply to send. Relative times (`SET
    /// ... EX 10`, `EXPIRE`) count from now by this node's wall clock.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        Command::parse_at(args, dtable::time::system_millis())
    }

    /// [`parse`](Command::parse) with relative times counted from `now` (Unix ms).
    pub fn parse_at(args: Vec<Bytes>, now: u64) -> Result<Command, Reply> {
        let Some(spec) = args.first().and_then(|name| spec::lookup(name)) else {
            return Err(unknown_command(&args));
        };
        if !spec.arity_fits(args.len()) {
            return Err(wrong_arity(spec.name));
        }
        // The plain SET (the common case, no options) stays a plain write.
        let plain_set = spec.name == "set" && args.len() == 3;
        if !plain_set && super::strings::serves(spec.name) {
            if let Some(parsed) = super::strings::parse(spec.name, args, now) {
                let (key, op, answer) = parsed?;
                // An unconditional write with a deadline stays a plain write (batched, and
                // retried like SET), not a read-modify-write at the primary.
                if let dtable::Modify::Set {
                    value,
                    when: dtable::SetCondition::Always,
                    get: false,
                    expiry: dtable::Expiry::At(at),
                } = op
                {
                    return Ok(Command::SetExpiring(key, value, at));
                }
                return Ok(Command::Modify { key, op, answer });
            }
            return Err(syntax_error());
        }
        if let Some(parsed) = super::multikey::parse(spec.name, &args) {
            let (keys, op, answer) = parsed?;
            return Ok(Command::ModifyMany { keys, op, answer });
        }
        if let Some(parsed) = super::snapshots::parse(spec.name, &args) {
            return parsed;
        }
        let argc = args.len();
        let mut rest = args.into_iter().skip(1);
        let mut next = || rest.next().unwrap_or_default();
        let command = match spec.name {
            "ping" => match argc {
                1 => Command::Ping(None),
                2 => Command::Ping(Some(next())),
                _ => return Err(wrong_arity(spec.name)),
            },
            "echo" => Command::Echo(next()),
            "get" => Command::Get(next()),
            "strlen" => Command::Strlen(next()),
            "ttl" | "pttl" | "expiretime" | "pexpiretime" => {
                match super::expiry::DeadlineQuery::of(spec.name) {
                    Some(query) => Command::Deadline(next(), query),
                    None => return Err(unknown_command(&[next()])),
                }
            }
            "getrange" | "substr" => {
                let key = next();
                let start = parse_integer(&next()).ok_or_else(not_an_integer)?;
                let end = parse_integer(&next()).ok_or_else(not_an_integer)?;
                Command::GetRange(key, start, end)
            }
            "getbit" => {
                let key = next();
                Command::GetBit(key, super::strings::bit_offset(&next())?)
            }
            "bitcount" => Command::BitCount(next(), (2..argc).map(|_| next()).collect()),
            "bitpos" => {
                let key = next();
                let bit = match next().as_ref() {
                    b"0" => false,
                    b"1" => true,
                    _ => return Err(Reply::err("The bit argument must be 1 or 0.")),
                };
                Command::BitPos(key, bit, (3..argc).map(|_| next()).collect())
            }
            "lcs" => {
                let (first, second) = (next(), next());
                let options: Vec<Bytes> = (3..argc).map(|_| next()).collect();
                Command::Lcs(first, second, super::lcs::Options::parse(&options)?)
            }
            "randomkey" => Command::RandomKey,
            "scan" => Command::Scan(super::keyspace::Scan::parse(
                &(1..argc).map(|_| next()).collect::<Vec<_>>(),
            )?),
            "keys" => Command::Keys(next()),
            "type" => Command::Type(next()),
            "touch" => Command::Exists((1..argc).map(|_| next()).collect()),
            "unlink" => Command::Del((1..argc).map(|_| next()).collect()),
            "flushall" | "flushdb" => match argc {
                1 => Command::FlushAll,
                2 => {
                    let mode = next();
                    if !mode.eq_ignore_ascii_case(b"async") && !mode.eq_ignore_ascii_case(b"sync") {
                        return Err(syntax_error());
                    }
                    Command::FlushAll
                }
                _ => return Err(syntax_error()),
            },
            "set" => {
                if argc != 3 {
                    return Err(syntax_error());
                }
                Command::Set(next(), next())
            }
            "del" => Command::Del((1..argc).map(|_| next()).collect()),
            "exists" => Command::Exists((1..argc).map(|_| next()).collect()),
            "mget" => Command::MGet((1..argc).map(|_| next()).collect()),
            "mset" => {
                if argc % 2 == 0 {
                    return Err(wrong_arity(spec.name));
                }
                Command::MSet((0..argc / 2).map(|_| (next(), next())).collect())
            }
            "dbsize" => Command::DbSize,
            "info" => match argc {
                1 => Command::Info(None),
                2 => Command::Info(Some(String::from_utf8_lossy(&next()).to_ascii_lowercase())),
                _ => return Err(syntax_error()),
            },
            "quit" => Command::Quit,
            "reset" => Command::Reset,
            "time" => Command::Time,
            "select" => Command::Select(parse_integer(&next()).ok_or_else(not_an_integer)?),
            "hello" => Command::Hello(parse_hello((1..argc).map(|_| next()).collect())?),
            "auth" => match argc {
                2 => Command::Auth {
                    user: None,
                    password: next(),
                },
                3 => Command::Auth {
                    user: Some(next()),
                    password: next(),
                },
                _ => return Err(syntax_error()),
            },
            "consistency" => match argc {
                1 => Command::Consistency(None),
                3 => {
                    let mut level = || {
                        parse_integer(&next())
                            .and_then(|level| u8::try_from(level).ok())
                            .ok_or_else(|| {
                                Reply::err(
                                    "consistency levels must be integers from 1 to replicas + 1",
                                )
                            })
                    };
                    let read = level()?;
                    let write = level()?;
                    Command::Consistency(Some((read, write)))
                }
                _ => return Err(wrong_arity(spec.name)),
            },
            "readonly" => Command::ReadOnly(true),
            "readwrite" => Command::ReadOnly(false),
            "asking" => Command::Asking,
            "client" | "command" | "config" | "cluster" => {
                let args: Vec<Bytes> = (1..argc).map(|_| next()).collect();
                return parse_subcommand(spec, args);
            }
            // A table entry without a parser is a bug caught by the unit tests, which parse
            // every command in the table.
            _ => return Err(unknown_command(&[Bytes::from_static(spec.name.as_bytes())])),
        };
        Ok(command)
    }
}

/// Parses a container's request; `args` start at the subcommand. `COMMAND` alone is valid.
fn parse_subcommand(container: &'static CommandSpec, args: Vec<Bytes>) -> Result<Command, Reply> {
    let Some(sub_name) = args.first() else {
        return Ok(Command::CommandQuery(CommandQuery::All));
    };
    let Some(sub) = container.subcommand(sub_name) else {
        if container.name == "cluster" && super::cluster::is_ring_managed(sub_name) {
            return Err(super::cluster::managed_by_the_ring(sub_name));
        }
        return Err(unknown_subcommand(container, sub_name));
    };
    // The subcommand's arity counts the container's name too.
    if !sub.arity_fits(args.len() + 1) {
        return Err(wrong_arity(sub.name));
    }
    let mut operands = args.into_iter().skip(1);
    let command = match sub.name {
        "client|id" => Command::Client(ClientCommand::Id),
        "client|info" => Command::Client(ClientCommand::Info),
        "client|getname" => Command::Client(ClientCommand::GetName),
        "client|setname" => {
            Command::Client(ClientCommand::SetName(operands.next().unwrap_or_default()))
        }
        "client|list" => Command::Client(ClientCommand::List(parse_client_filter(operands)?)),
        "client|setinfo" => {
            let attribute = operands.next().unwrap_or_default();
            let value = operands.next().unwrap_or_default();
            let lib_name = if eq_ignore_case(&attribute, "lib-name") {
                true
            } else if eq_ignore_case(&attribute, "lib-ver") {
                false
            } else {
                return Err(Reply::err(format!(
                    "Unrecognized option '{}'",
                    String::from_utf8_lossy(&attribute)
                )));
            };
            if !is_client_attribute(&value) {
                return Err(Reply::err(format!(
                    "{} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&attribute)
                )));
            }
            Command::Client(ClientCommand::SetInfo { lib_name, value })
        }
        "client|no-evict" | "client|no-touch" => {
            let mode = operands.next().unwrap_or_default();
            if !eq_ignore_case(&mode, "on") && !eq_ignore_case(&mode, "off") {
                return Err(syntax_error());
            }
            Command::Client(ClientCommand::Accepted)
        }
        "command|count" => Command::CommandQuery(CommandQuery::Count),
        "command|info" => Command::CommandQuery(CommandQuery::Info(operands.collect())),
        "command|docs" => Command::CommandQuery(CommandQuery::Docs(operands.collect())),
        "command|getkeys" => Command::CommandQuery(CommandQuery::GetKeys(operands.collect())),
        "config|get" => Command::ConfigGet(operands.collect()),
        name if name.starts_with("cluster|") => return super::cluster::parse(name, operands),
        _ => return Err(unknown_subcommand(container, sub_name_bytes(sub))),
    };
    Ok(command)
}

pub(super) fn sub_name_bytes(sub: &'static CommandSpec) -> &'static [u8] {
    sub.name
        .split_once('|')
        .map_or(sub.name, |(_, name)| name)
        .as_bytes()
}

/// Answers `keys.len()` pipelined `GET`s with one multi-key read: the replies, in order. A read
/// that fails answers every one of them with its error, as `MGET` does.
pub async fn execute_gets(
    keys: Vec<Bytes>,
    session: &Session,
    backend: &dyn Backend,
) -> Vec<Reply> {
    let count = keys.len();
    match backend.get_many(keys, session.read).await {
        Ok(values) if values.len() == count => values.into_iter().map(bulk_or_nil).collect(),
        Ok(values) => vec![
            Reply::err(format!(
                "internal error: {} values for {count} keys",
                values.len()
            ));
            count
        ],
        Err(error) => vec![backend_error_reply(&error); count],
    }
}

/// Answers pipelined `SET`s (plain, or with a deadline) with one multi-key write: `OK` for each when it succeeds. When it
/// fails, each `SET` runs again on its own, in order, so that every one gets its own answer
/// (rewriting a pair that did land is harmless: same value, and the last `SET` of a key still
/// wins).
pub async fn execute_sets(
    writes: Vec<dtable::Write>,
    session: &Session,
    backend: &dyn Backend,
) -> Vec<Reply> {
    let count = writes.len();
    if count > 1 {
        if let Ok(()) = backend.set_many(writes.clone(), session.write).await {
            return vec![Reply::ok(); count];
        }
    }
    let mut replies = Vec::with_capacity(count);
    for w in writes {
        let outcome = match w.expires {
            None => backend.set(w.key, w.value, session.write).await,
            Some(at) => {
                backend
                    .set_expiring(w.key, w.value, at, session.write)
                    .await
            }
        };
        replies.push(from_backend(outcome, |()| Reply::ok()));
    }
    replies
}

/// The reply for a failed backend call; the first word is the error code.
pub fn backend_error_reply(error: &BackendError) -> Reply {
    match error {
        BackendError::Unavailable { .. } => Reply::Error(format!("UNAVAILABLE {error}")),
        BackendError::CrossSlot => Reply::Error(format!("CROSSSLOT {error}")),
        BackendError::Timeout => Reply::Error(format!("TIMEOUT {error}")),
        // Redis's code when it cannot persist ("MISCONF Errors writing to the AOF file").
        BackendError::Disk(_) => Reply::Error(format!("MISCONF {error}")),
        BackendError::Consistency { .. }
        | BackendError::Invalid(_)
        | BackendError::Internal(_)
        | BackendError::Refused(_) => Reply::err(error),
    }
}

pub(super) fn from_backend<T>(
    outcome: Result<T, BackendError>,
    reply: impl FnOnce(T) -> Reply,
) -> Reply {
    match outcome {
        Ok(value) => reply(value),
        Err(error) => backend_error_reply(&error),
    }
}

pub(super) fn bulk_or_nil(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Nil, Reply::Bulk)
}

pub(super) fn count_reply(count: usize) -> Reply {
    Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX))
}

/// Runs a parsed command; returns the reply and whether to keep the
/// connection open.
pub async fn execute(
    command: Command,
    session: &mut Session,
    backend: &dyn Backend,
    metrics: &Metrics,
) -> (Reply, Flow) {
    let reply = match command {
        Command::Ping(None) => Reply::Simple("PONG".into()),
        Command::Ping(Some(message)) | Command::Echo(message) => Reply::Bulk(message),
        Command::Get(key) => from_backend(backend.get(key, session.read).await, bulk_or_nil),
        Command::Set(key, value) => {
            from_backend(backend.set(key, value, session.write).await, |()| {
                Reply::ok()
            })
        }
        Command::SetExpiring(key, value, at) => from_backend(
            backend.set_expiring(key, value, at, session.write).await,
            |()| Reply::ok(),
        ),
        Command::Deadline(key, query) => {
            from_backend(backend.get_expiring(key, session.read).await, |found| {
                query.reply(
                    found.map(|(_, expires)| expires),
                    dtable::time::system_millis(),
                )
            })
        }
        Command::ModifyMany { keys, op, answer } => from_backend(
            backend.modify_many(keys, op, session.write).await,
            |outcome| answer.reply(outcome),
        ),
        Command::Modify { key, op, answer } => {
            from_backend(backend.modify(key, op, session.write).await, |outcome| {
                answer.reply(outcome)
            })
        }
        Command::Scan(scan) => from_backend(scan.run(backend).await, |reply| reply),
        Command::Keys(pattern) => {
            from_backend(super::keyspace::keys(&pattern, backend).await, |reply| {
                reply
            })
        }
        Command::Type(key) => from_backend(backend.get(key, session.read).await, |value| {
            Reply::Simple(if value.is_some() { "string" } else { "none" }.into())
        }),
        Command::FlushAll => super::keyspace::flush_all(backend, session.write).await,
        Command::GetRange(key, start, end) => {
            from_backend(backend.get(key, session.read).await, |value| {
                Reply::Bulk(super::strings::range_of(
                    &value.unwrap_or_default(),
                    start,
                    end,
                ))
            })
        }
        Command::GetBit(key, offset) => {
            from_backend(backend.get(key, session.read).await, |value| {
                Reply::Integer(super::strings::bit_of(&value.unwrap_or_default(), offset))
            })
        }
        Command::BitPos(key, bit, range) => {
            from_backend(backend.get(key, session.read).await, |value| match value {
                None => Reply::Integer(if bit { -1 } else { 0 }),
                Some(value) => match bitpos_range(&range) {
                    Ok(range) => Reply::Integer(super::strings::first_bit(&value, bit, range)),
                    Err(reply) => reply,
                },
            })
        }
        Command::Lcs(first, second, options) => from_backend(
            backend.get_many(vec![first, second], session.read).await,
            |values| {
                let value = |i: usize| values.get(i).cloned().flatten().unwrap_or_default();
                super::lcs::reply(&value(0), &value(1), options)
            },
        ),
        Command::RandomKey => from_backend(super::keyspace::random_key(backend).await, bulk_or_nil),
        Command::BitCount(key, range) => {
            from_backend(backend.get(key, session.read).await, |value| match value {
                None => Reply::Integer(0),
                Some(value) => match bitcount_range(&range) {
                    Ok(range) => Reply::Integer(super::strings::count_bits(&value, range)),
                    Err(reply) => reply,
                },
            })
        }
        Command::Strlen(key) => from_backend(backend.get(key, session.read).await, |value| {
            count_reply(value.map_or(0, |v| v.len()))
        }),
        Command::Del(keys) => from_backend(backend.delete(keys, session.write).await, count_reply),
        Command::Exists(keys) => {
            from_backend(backend.get_many(keys, session.read).await, |values| {
                count_reply(values.iter().filter(|value| value.is_some()).count())
            })
        }
        Command::MGet(keys) => from_backend(backend.get_many(keys, session.read).await, |values| {
            Reply::Array(values.into_iter().map(bulk_or_nil).collect())
        }),
        Command::MSet(pairs) => {
            let writes = pairs
                .into_iter()
                .map(|(key, value)| dtable::Write::lasting(key, value))
                .collect();
            from_backend(backend.set_many(writes, session.write).await, |()| {
                Reply::ok()
            })
        }
        Command::DbSize => count_reply(backend.local_len()),
        Command::Info(section) => {
            Reply::Verbatim(info_text(section.as_deref(), session, backend, metrics).into())
        }
        Command::CommandQuery(query) => command_query(query),
        Command::Quit => return (Reply::ok(), Flow::Close),
        Command::Reset => {
            session.reset();
            Reply::Simple("RESET".into())
        }
        Command::Time => time_reply(),
        Command::Select(0) => Reply::ok(),
        // As a Redis started with `databases 1` (which `CONFIG GET databases` reports).
        Command::Select(_) => Reply::err("DB index is out of range"),
        Command::Client(client) => client_reply(client, session),
        Command::ConfigGet(patterns) => {
            let patterns: Vec<&[u8]> = patterns.iter().map(|pattern| pattern.as_ref()).collect();
            Reply::Map(
                parameters::matching(&patterns, backend.log().is_some())
                    .into_iter()
                    .map(|(name, value)| {
                        (
                            Reply::Bulk(Bytes::copy_from_slice(name)),
                            Reply::text(value),
                        )
                    })
                    .collect(),
            )
        }
        Command::Hello(hello) => hello_reply(hello, session),
        Command::Cluster(cluster) => super::cluster::execute(cluster, session, backend),
        Command::ReadOnly(readonly) => {
            // Redis Cluster clients send READONLY to replicas they read from.
            session.cluster_client = true;
            session.readonly = readonly;
            Reply::ok()
        }
        Command::Asking => {
            // The next command is served here even if the slot map names another node.
            session.asking = true;
            Reply::ok()
        }
        Command::Snapshot(command) => super::snapshots::execute(command, backend).await,
        Command::Auth { user, password } => {
            let (reply, authenticated) =
                authenticate(session.requirepass.as_ref(), user.as_ref(), &password);
            session.authenticated = authenticated;
            reply
        }
        Command::Consistency(None) => Reply::Array(vec![
            Reply::Integer(i64::from(session.read.level())),
            Reply::Integer(i64::from(session.write.level())),
        ]),
        Command::Consistency(Some((read, write))) => {
            let max = backend.max_consistency();
            match (Consistency::new(read, max), Consistency::new(write, max)) {
                (Ok(read), Ok(write)) => {
                    session.read = read;
                    session.write = write;
                    Reply::ok()
                }
                (Err(error), _) | (_, Err(error)) => backend_error_reply(&error),
            }
        }
    };
    (reply, Flow::Continue)
}

/// `COMMAND` and its subcommands, all answered from the command table.
fn command_query(query: CommandQuery) -> Reply {
    match query {
        CommandQuery::All => Reply::Array(COMMANDS.iter().map(CommandSpec::info_reply).collect()),
        CommandQuery::Count => count_reply(COMMANDS.len()),
        CommandQuery::Info(names) if names.is_empty() => command_query(CommandQuery::All),
        CommandQuery::Info(names) => Reply::Array(
            names
                .iter()
                .map(|name| spec::lookup(name).map_or(Reply::Nil, CommandSpec::info_reply))
                .collect(),
        ),
        CommandQuery::Docs(names) => {
            let wanted: Vec<&'static CommandSpec> = if names.is_empty() {
                COMMANDS.iter().collect()
            } else {
                names.iter().filter_map(|name| spec::lookup(name)).collect()
            };
            Reply::Map(
                wanted
                    .into_iter()
                    .map(|spec| (Reply::text(spec.name), spec.docs_reply()))
                    .collect(),
            )
        }
        CommandQuery::GetKeys(request) => {
            let Some(spec) = request.first().and_then(|name| spec::lookup(name)) else {
                return Reply::err("Invalid command specified");
            };
            match spec.keys_of(&request) {
                Ok(keys) => Reply::Array(keys.into_iter().cloned().map(Reply::Bulk).collect()),
                Err(reply) => reply,
            }
        }
    }
}

#[cfg(test)]
mod tests;
