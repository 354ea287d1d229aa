//! Turning request argument vectors into replies.
//!
//! [`Command::parse`] is pure (name lookup, arity, subcommands, syntax — all read from the one
//! table in [`super::spec`]) so the Redis wording of every error can be unit tested;
//! [`execute`] performs a parsed command against the [`Backend`] with the connection's
//! [`Session`].

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::backend::{Backend, BackendError, Consistency};
use crate::metrics::Metrics;

use super::auth::{authenticate, Password};
use super::clients::{ClientRecord, ClientRegistry};
use super::parameters;
use super::reply::Protocol;
use super::spec::{self, CommandSpec, COMMANDS};
use super::Reply;

/// The Redis version Dendrite answers as (`HELLO`, `INFO`): the commands it serves behave as
/// in this version (`CLIENT SETINFO` and `CLIENT NO-TOUCH` are 7.2's).
pub const REDIS_VERSION: &str = "7.2.0";

/// Per-connection state that commands can change.
#[derive(Debug, Clone)]
pub struct Session {
    /// Replicas that must answer reads (set with `CONSISTENCY`).
    pub read: Consistency,
    /// Replicas that must acknowledge writes (set with `CONSISTENCY`).
    pub write: Consistency,
    /// The password clients must give with `AUTH`; `None` lets everyone in.
    pub requirepass: Option<Password>,
    /// Whether this connection may run commands (always, without a password).
    pub authenticated: bool,
    /// The protocol replies are encoded in (`HELLO`).
    pub protocol: Protocol,
    /// What `CLIENT INFO`/`LIST` show of this connection (id, name, addresses...).
    pub record: ClientRecord,
    /// Every connection of the server, for `CLIENT LIST`.
    pub clients: Arc<ClientRegistry>,
}

impl Session {
    /// A new connection's session: consistency 1 for reads and writes.
    pub fn new(client_id: u64) -> Session {
        Session::with_password(client_id, None)
    }

    /// A new connection's session that must `AUTH` with `requirepass` first, if one is set.
    pub fn with_password(client_id: u64, requirepass: Option<Password>) -> Session {
        Session::accepted(
            ClientRecord::new(client_id, None, None, -1),
            ClientRegistry::new(),
            requirepass,
        )
    }

    /// The session of a connection the server accepted, described by `record`.
    pub fn accepted(
        record: ClientRecord,
        clients: Arc<ClientRegistry>,
        requirepass: Option<Password>,
    ) -> Session {
        Session {
            read: Consistency::ONE,
            write: Consistency::ONE,
            authenticated: requirepass.is_none(),
            requirepass,
            protocol: Protocol::Resp2,
            record,
            clients,
        }
    }

    /// Server-unique connection id (`CLIENT ID`).
    pub fn client_id(&self) -> u64 {
        self.record.id
    }

    fn id_reply(&self) -> Reply {
        Reply::Integer(i64::try_from(self.record.id).unwrap_or(i64::MAX))
    }

    /// Notes that the connection is about to run the request `args`, for `CLIENT LIST`.
    pub fn note_command(&mut self, args: &[Bytes]) {
        if let Some(name) = spec::full_name(args) {
            self.record.last_command = name;
        }
        self.record.last_active = Instant::now();
    }

    /// `RESET`: back to a fresh connection's state (RESP2, no name, default consistency, and
    /// logged out when a password is required), as Redis's `clearClientConnectionState`.
    fn reset(&mut self) {
        self.read = Consistency::ONE;
        self.write = Consistency::ONE;
        self.authenticated = self.requirepass.is_none();
        self.protocol = Protocol::Resp2;
        self.record.protocol = Protocol::Resp2;
        self.record.name = None;
    }
}

/// What the connection should do after sending a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading requests.
    Continue,
    /// Flush and close (QUIT).
    Close,
}

/// `CLIENT LIST`'s filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientFilter {
    /// `TYPE normal|master|replica|slave|pubsub`: every Dendrite client is `normal`.
    pub normal_only: Option<bool>,
    /// `ID id [id ...]`.
    pub ids: Option<Vec<u64>>,
}

/// The `CLIENT` subcommands served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// `CLIENT SETNAME name`
    SetName(Bytes),
    /// `CLIENT GETNAME`
    GetName,
    /// `CLIENT ID`
    Id,
    /// `CLIENT INFO`
    Info,
    /// `CLIENT LIST [TYPE type] [ID id ...]`
    List(ClientFilter),
    /// `CLIENT SETINFO lib-name|lib-ver value`; `lib_name` tells which.
    SetInfo {
        /// True for `lib-name`, false for `lib-ver`.
        lib_name: bool,
        /// The new value (empty clears it).
        value: Bytes,
    },
    /// `CLIENT NO-EVICT on|off`, `CLIENT NO-TOUCH on|off`: accepted; Dendrite neither evicts
    /// clients nor tracks key access times.
    Accepted,
}

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

/// The options of a `HELLO` request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// The protocol asked for; `None` keeps the current one.
    pub protocol: Option<Protocol>,
    /// `AUTH user password`, to log in at the same time.
    pub auth: Option<(Bytes, Bytes)>,
    /// `SETNAME name`.
    pub setname: Option<Bytes>,
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
fn unknown_subcommand(container: &CommandSpec, sub: &[u8]) -> Reply {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    Reply::err(format!(
        "unknown subcommand '{sub}'. Try {} HELP.",
        container.name.to_ascii_uppercase()
    ))
}

fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

/// A decimal integer as Redis's `string2ll` reads it: no sign but `-`, no spaces.
fn parse_integer(arg: &[u8]) -> Option<i64> {
    if arg.first() == Some(&b'+') {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

fn eq_ignore_case(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

impl Command {
    /// Validates a request (name first); an `Err` is the reply to send.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        let Some(spec) = args.first().and_then(|name| spec::lookup(name)) else {
            return Err(unknown_command(&args));
        };
        if !spec.arity_fits(args.len()) {
            return Err(wrong_arity(spec.name));
        }
        // The plain SET (the common case, no options) stays a plain write.
        let plain_set = spec.name == "set" && args.len() == 3;
        if !plain_set && super::strings::serves(spec.name) {
            if let Some(parsed) = super::strings::parse(spec.name, args) {
                let (key, op, answer) = parsed?;
                return Ok(Command::Modify { key, op, answer });
            }
            return Err(syntax_error());
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
            "client" | "command" | "config" => {
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
        _ => return Err(unknown_subcommand(container, sub_name_bytes(sub))),
    };
    Ok(command)
}

fn sub_name_bytes(sub: &'static CommandSpec) -> &'static [u8] {
    sub.name
        .split_once('|')
        .map_or(sub.name, |(_, name)| name)
        .as_bytes()
}

/// `CLIENT LIST`'s options, in Redis's wording of errors.
fn parse_client_filter(operands: impl Iterator<Item = Bytes>) -> Result<ClientFilter, Reply> {
    let operands: Vec<Bytes> = operands.collect();
    let mut filter = ClientFilter::default();
    let mut index = 0;
    while index < operands.len() {
        let option = &operands[index];
        if eq_ignore_case(option, "type") && index + 1 < operands.len() {
            let kind = &operands[index + 1];
            filter.normal_only = Some(if eq_ignore_case(kind, "normal") {
                true
            } else if ["master", "replica", "slave", "pubsub"]
                .iter()
                .any(|other| eq_ignore_case(kind, other))
            {
                false
            } else {
                return Err(Reply::err(format!(
                    "Unknown client type '{}'",
                    String::from_utf8_lossy(kind)
                )));
            });
            index += 2;
        } else if eq_ignore_case(option, "id") && index + 1 < operands.len() {
            let mut ids = Vec::new();
            for id in &operands[index + 1..] {
                match parse_integer(id).and_then(|id| u64::try_from(id).ok()) {
                    Some(id) if id > 0 => ids.push(id),
                    _ => return Err(Reply::err("Invalid client ID")),
                }
            }
            filter.ids = Some(ids);
            index = operands.len();
        } else {
            return Err(syntax_error());
        }
    }
    Ok(filter)
}

/// Client names and library attributes: printable ASCII without spaces (Redis's rule).
fn is_client_attribute(value: &[u8]) -> bool {
    value.iter().all(|byte| (b'!'..=b'~').contains(byte))
}

/// `HELLO`'s arguments after the name, in Redis's order and wording: the version is checked
/// before the options.
fn parse_hello(args: Vec<Bytes>) -> Result<Hello, Reply> {
    let mut hello = Hello::default();
    let mut args = args.into_iter();
    let Some(protover) = args.next() else {
        return Ok(hello);
    };
    let version = parse_integer(&protover)
        .ok_or_else(|| Reply::err("Protocol version is not an integer or out of range"))?;
    hello.protocol = Some(
        Protocol::from_version(version)
            .ok_or_else(|| Reply::Error("NOPROTO unsupported protocol version".into()))?,
    );
    while let Some(option) = args.next() {
        if eq_ignore_case(&option, "auth") && args.len() >= 2 {
            if let (Some(user), Some(password)) = (args.next(), args.next()) {
                hello.auth = Some((user, password));
            }
        } else if eq_ignore_case(&option, "setname") && args.len() >= 1 {
            hello.setname = args.next();
        } else {
            return Err(Reply::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&option)
            )));
        }
    }
    Ok(hello)
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

/// Answers pipelined `SET`s with one multi-key write: `OK` for each when it succeeds. When it
/// fails, each `SET` runs again on its own, in order, so that every one gets its own answer
/// (rewriting a pair that did land is harmless: same value, and the last `SET` of a key still
/// wins).
pub async fn execute_sets(
    pairs: Vec<(Bytes, Bytes)>,
    session: &Session,
    backend: &dyn Backend,
) -> Vec<Reply> {
    let count = pairs.len();
    if count > 1 {
        if let Ok(()) = backend.set_many(pairs.clone(), session.write).await {
            return vec![Reply::ok(); count];
        }
    }
    let mut replies = Vec::with_capacity(count);
    for (key, value) in pairs {
        let outcome = backend.set(key, value, session.write).await;
        replies.push(from_backend(outcome, |()| Reply::ok()));
    }
    replies
}

/// The reply for a failed backend call; the first word is the error code.
pub fn backend_error_reply(error: &BackendError) -> Reply {
    match error {
        BackendError::Unavailable { .. } => Reply::Error(format!("UNAVAILABLE {error}")),
        BackendError::Timeout => Reply::Error(format!("TIMEOUT {error}")),
        BackendError::Consistency { .. }
        | BackendError::Invalid(_)
        | BackendError::Internal(_)
        | BackendError::Refused(_) => Reply::err(error),
    }
}

fn from_backend<T>(outcome: Result<T, BackendError>, reply: impl FnOnce(T) -> Reply) -> Reply {
    match outcome {
        Ok(value) => reply(value),
        Err(error) => backend_error_reply(&error),
    }
}

/// The optional `start [end [BYTE|BIT]]` of BITPOS (`true`: bits).
fn bitpos_range(args: &[Bytes]) -> Result<Option<(i64, Option<i64>, bool)>, Reply> {
    let integer = |arg: &Bytes| parse_integer(arg).ok_or_else(not_an_integer);
    match args {
        [] => Ok(None),
        [start] => Ok(Some((integer(start)?, None, false))),
        [start, end] => Ok(Some((integer(start)?, Some(integer(end)?), false))),
        [start, end, unit] => {
            let (start, end) = (integer(start)?, integer(end)?);
            let unit = unit.to_ascii_uppercase();
            let bits = match unit.as_slice() {
                b"BYTE" => false,
                b"BIT" => true,
                _ => return Err(syntax_error()),
            };
            Ok(Some((start, Some(end), bits)))
        }
        _ => Err(syntax_error()),
    }
}

/// The optional `start end [BYTE|BIT]` of BITCOUNT (`true`: bits).
fn bitcount_range(args: &[Bytes]) -> Result<Option<(i64, i64, bool)>, Reply> {
    match args {
        [] => Ok(None),
        [start, end, unit @ ..] if unit.len() <= 1 => {
            let start = parse_integer(start).ok_or_else(not_an_integer)?;
            let end = parse_integer(end).ok_or_else(not_an_integer)?;
            let bits = match unit.first().map(|u| u.to_ascii_uppercase()) {
                None => false,
                Some(unit) if unit == b"BYTE" => false,
                Some(unit) if unit == b"BIT" => true,
                Some(_) => return Err(syntax_error()),
            };
            Ok(Some((start, end, bits)))
        }
        _ => Err(syntax_error()),
    }
}

fn bulk_or_nil(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Nil, Reply::Bulk)
}

fn count_reply(count: usize) -> Reply {
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
        Command::MSet(pairs) => from_backend(backend.set_many(pairs, session.write).await, |()| {
            Reply::ok()
        }),
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
                parameters::matching(&patterns)
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

/// `TIME`: seconds and microseconds since the Unix epoch, as two bulk strings.
fn time_reply() -> Reply {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::text(&since_epoch.as_secs().to_string()),
        Reply::text(&since_epoch.subsec_micros().to_string()),
    ])
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

/// `CLIENT` subcommands.
fn client_reply(client: ClientCommand, session: &mut Session) -> Reply {
    match client {
        ClientCommand::SetName(name) => match set_client_name(session, name) {
            Ok(()) => Reply::ok(),
            Err(reply) => reply,
        },
        ClientCommand::GetName => bulk_or_nil(session.record.name.clone()),
        ClientCommand::Id => session.id_reply(),
        ClientCommand::Info => Reply::Verbatim(session.record.line(Instant::now()).into()),
        ClientCommand::List(filter) => {
            let now = Instant::now();
            let listed: String = session
                .clients
                .snapshot(&session.record)
                .iter()
                .filter(|_| filter.normal_only != Some(false))
                .filter(|record| {
                    filter
                        .ids
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&record.id))
                })
                .map(|record| record.line(now))
                .collect();
            Reply::Verbatim(listed.into())
        }
        ClientCommand::SetInfo { lib_name, value } => {
            let value = (!value.is_empty()).then_some(value);
            if lib_name {
                session.record.lib_name = value;
            } else {
                session.record.lib_ver = value;
            }
            Reply::ok()
        }
        ClientCommand::Accepted => Reply::ok(),
    }
}

/// `CLIENT SETNAME` rules: printable ASCII without spaces; empty clears the name.
fn set_client_name(session: &mut Session, name: Bytes) -> Result<(), Reply> {
    if !is_client_attribute(&name) {
        return Err(Reply::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    session.record.name = (!name.is_empty()).then_some(name);
    Ok(())
}

/// `HELLO`: optionally logs in and names the client, switches protocol, then describes the
/// server as Redis does (a map, so a flat list of field/value pairs in RESP2).
fn hello_reply(hello: Hello, session: &mut Session) -> Reply {
    if let Some((user, password)) = hello.auth {
        let (reply, authenticated) =
            authenticate(session.requirepass.as_ref(), Some(&user), &password);
        if !authenticated {
            return reply;
        }
        session.authenticated = true;
    }
    if !session.authenticated {
        return Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time"
                .into(),
        );
    }
    if let Some(name) = hello.setname {
        if let Err(reply) = set_client_name(session, name) {
            return reply;
        }
    }
    if let Some(protocol) = hello.protocol {
        session.protocol = protocol;
        session.record.protocol = protocol;
    }
    Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (Reply::text("version"), Reply::text(REDIS_VERSION)),
        (
            Reply::text("proto"),
            Reply::Integer(session.protocol.version()),
        ),
        (Reply::text("id"), session.id_reply()),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ])
}

/// The `# Ring` INFO section, Redis's replication section in spirit: where this node sits on
/// the ring, read from the backend's `/status` document (absent fields are left out).
fn ring_section(status: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("# Ring\r\n");
    let text_of = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    for field in [
        "host",
        "running",
        "replicas",
        "max_consistency",
        "keys",
        "underreplicated_ranges",
    ] {
        if let Some(value) = status.get(field) {
            let value = match value {
                serde_json::Value::Bool(flag) => u8::from(*flag).to_string(),
                other => text_of(other),
            };
            // Writing to a String cannot fail.
            let _ = write!(text, "ring_{field}:{value}\r\n");
        }
    }
    let vnodes = status
        .get("vnodes")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let _ = write!(text, "ring_vnodes:{}\r\n", vnodes.len());
    for (index, vnode) in vnodes.iter().enumerate() {
        let id: String = vnode
            .get("id")
            .map(text_of)
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect();
        let host_of = |value: Option<&serde_json::Value>| {
            value
                .and_then(|v| v.get("host"))
                .map_or_else(|| "none".to_owned(), text_of)
        };
        let predecessor = host_of(vnode.get("predecessor"));
        let successor = host_of(vnode.get("successors").and_then(|list| list.get(0)));
        let ownership = vnode
            .get("ownership")
            .and_then(serde_json::Value::as_f64)
            .map_or_else(
                || "unknown".to_owned(),
                |share| format!("{:.2}", share * 100.0),
            );
        let _ = write!(
            text,
            "vnode{index}:id={id},predecessor={predecessor},successor={successor},ownership_pct={ownership}\r\n"
        );
    }
    text
}

/// The `# Keyspace` INFO section; like Redis, it lists no database while it is empty.
fn keyspace_section(keys: usize) -> String {
    if keys == 0 {
        "# Keyspace\r\n".into()
    } else {
        format!("# Keyspace\r\ndb0:keys={keys},expires=0,avg_ttl=0\r\n")
    }
}

/// The `INFO` text: Redis-style sections of `field:value` lines.
fn info_text(
    section: Option<&str>,
    session: &Session,
    backend: &dyn Backend,
    metrics: &Metrics,
) -> String {
    let sections = [
        (
            "server",
            format!(
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\ndendrite_version:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                metrics.uptime().as_secs(),
            ),
        ),
        (
            "clients",
            format!("# Clients\r\nconnected_clients:{}\r\n", metrics.connected_clients()),
        ),
        (
            "keyspace",
            keyspace_section(backend.local_len()),
        ),
        ("ring", ring_section(&backend.status())),
        (
            "dendrite",
            format!(
                "# Dendrite\r\nmax_consistency:{}\r\nread_consistency:{}\r\nwrite_consistency:{}\r\n",
                backend.max_consistency(),
                session.read,
                session.write,
            ),
        ),
    ];
    let wanted = |name: &str| match section {
        None | Some("all" | "everything" | "default") => true,
        Some(wanted) => wanted == name,
    };
    sections
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn parse(words: &[&str]) -> Result<Command, Reply> {
        Command::parse(
            words
                .iter()
                .map(|word| Bytes::copy_from_slice(word.as_bytes()))
                .collect(),
        )
    }

    fn error_text(words: &[&str]) -> String {
        match parse(words) {
            Err(Reply::Error(text)) => text,
            other => panic!("expected an error for {words:?}, got {other:?}"),
        }
    }

    #[test]
    fn unknown_commands_are_worded_like_redis() {
        assert_eq!(
            error_text(&["foo", "a", "b"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            error_text(&["FOO"]),
            "ERR unknown command 'FOO', with args beginning with: "
        );
        let long = "x".repeat(300);
        let text = error_text(&["foo", &long, "y"]);
        assert!(text.ends_with(&format!("'{}' ", "x".repeat(128))), "{text}");
    }

    #[test]
    fn arity_and_syntax_errors() {
        assert_eq!(
            error_text(&["GET"]),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            error_text(&["get", "a", "b"]),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            error_text(&["ping", "a", "b"]),
            "ERR wrong number of arguments for 'ping' command"
        );
        assert_eq!(
            error_text(&["mset", "a", "1", "b"]),
            "ERR wrong number of arguments for 'mset' command"
        );
        assert_eq!(
            error_text(&["set", "k", "v", "NX", "XX"]),
            "ERR syntax error"
        );
        assert_eq!(error_text(&["set", "k", "v", "bogus"]), "ERR syntax error");
        assert_eq!(
            error_text(&["select", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error_text(&["consistency", "1"]),
            "ERR wrong number of arguments for 'consistency' command"
        );
    }

    #[test]
    fn parses_valid_commands() {
        assert_eq!(parse(&["PiNg"]), Ok(Command::Ping(None)));
        assert_eq!(
            parse(&["mset", "a", "1", "b", "2"]),
            Ok(Command::MSet(vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into())
            ]))
        );
        assert_eq!(
            parse(&["dendrite.consistency", "2", "1"]),
            Ok(Command::Consistency(Some((2, 1))))
        );
        assert_eq!(
            parse(&["command", "COUNT"]),
            Ok(Command::CommandQuery(CommandQuery::Count))
        );
        assert_eq!(
            parse(&["command", "docs"]),
            Ok(Command::CommandQuery(CommandQuery::Docs(vec![])))
        );
        assert_eq!(
            parse(&["hello", "3", "setname", "x"]),
            Ok(Command::Hello(Hello {
                protocol: Some(Protocol::Resp3),
                auth: None,
                setname: Some("x".into()),
            }))
        );
    }

    #[test]
    fn every_command_in_the_table_has_a_parser() {
        for spec in COMMANDS {
            let words: Vec<&str> = std::iter::once(spec.name)
                .chain(std::iter::repeat_n(
                    "1",
                    spec.arity.unsigned_abs() as usize - 1,
                ))
                .collect();
            if let Err(Reply::Error(text)) = parse(&words) {
                assert!(!text.contains("unknown command"), "{}: {text}", spec.name);
            }
            for sub in spec.subcommands {
                let (container, name) = sub.name.split_once('|').unwrap();
                let mut words = vec![container, name];
                words.resize(sub.arity.unsigned_abs() as usize, "1");
                if let Err(Reply::Error(text)) = parse(&words) {
                    assert!(!text.contains("unknown subcommand"), "{}: {text}", sub.name);
                }
            }
        }
    }

    #[test]
    fn connection_command_errors_are_worded_like_redis() {
        assert_eq!(
            error_text(&["client", "foo"]),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
        assert_eq!(
            error_text(&["CONFIG", "SET", "a", "b"]),
            "ERR unknown subcommand 'SET'. Try CONFIG HELP."
        );
        assert_eq!(
            error_text(&["client", "setname"]),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            error_text(&["command", "getkeys", "get"]),
            "ERR wrong number of arguments for 'command|getkeys' command"
        );
        assert_eq!(
            error_text(&["hello", "4"]),
            "NOPROTO unsupported protocol version"
        );
        assert_eq!(
            error_text(&["hello", "4", "foo"]),
            "NOPROTO unsupported protocol version"
        );
        assert_eq!(
            error_text(&["hello", "3", "setname"]),
            "ERR Syntax error in HELLO option 'setname'"
        );
        assert_eq!(
            error_text(&["client", "setinfo", "lib-x", "a"]),
            "ERR Unrecognized option 'lib-x'"
        );
        assert_eq!(
            error_text(&["client", "setinfo", "LIB-NAME", "a b"]),
            "ERR LIB-NAME cannot contain spaces, newlines or special characters."
        );
        assert_eq!(
            error_text(&["client", "no-evict", "maybe"]),
            "ERR syntax error"
        );
        assert_eq!(error_text(&["client", "list", "x"]), "ERR syntax error");
        assert_eq!(
            error_text(&["reset", "x"]),
            "ERR wrong number of arguments for 'reset' command"
        );
    }

    #[tokio::test]
    async fn hello_three_switches_the_session_and_reset_switches_back() {
        let backend = MemoryBackend::new(1);
        let metrics = Metrics::new();
        let mut session = Session::new(7);
        let hello = parse(&["HELLO", "3", "SETNAME", "app"]).unwrap();
        let (reply, _) = execute(hello, &mut session, &backend, &metrics).await;
        assert_eq!(session.protocol, Protocol::Resp3);
        let wire = reply.to_bytes(Protocol::Resp3);
        assert!(
            wire.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
            "{wire:?}"
        );
        assert!(
            wire.ends_with(b"$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
            "{wire:?}"
        );
        let (reply, _) = execute(Command::Reset, &mut session, &backend, &metrics).await;
        assert_eq!(reply, Reply::Simple("RESET".into()));
        assert_eq!(session.protocol, Protocol::Resp2);
        assert_eq!(session.record.name, None);
    }

    #[tokio::test]
    async fn command_introspection_comes_from_the_table() {
        let backend = MemoryBackend::new(1);
        let metrics = Metrics::new();
        let mut session = Session::new(1);
        let mut run = |words: &[&str]| {
            let command = parse(words).unwrap();
            let (reply, _) =
                futures::executor::block_on(execute(command, &mut session, &backend, &metrics));
            reply
        };
        assert_eq!(run(&["command", "count"]), count_reply(COMMANDS.len()));
        let info = run(&["command", "info", "get", "nosuch"]);
        assert!(
            info.to_bytes(Protocol::Resp2).starts_with(
                b"*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
            ),
            "{info:?}"
        );
        assert!(info.to_bytes(Protocol::Resp2).ends_with(b"$-1\r\n"));
        assert_eq!(
            run(&["command", "getkeys", "mset", "a", "1", "b", "2"]),
            Reply::Array(vec![Reply::Bulk("a".into()), Reply::Bulk("b".into())])
        );
        assert_eq!(
            run(&["command", "getkeys", "nosuch", "x"]),
            Reply::err("Invalid command specified")
        );
        assert_eq!(
            run(&["config", "get", "databases", "SAVE"]),
            Reply::Map(vec![
                (Reply::text("databases"), Reply::text("1")),
                (Reply::text("SAVE"), Reply::text("")),
            ])
        );
    }

    #[tokio::test]
    async fn consistency_is_checked_against_the_backend() {
        let backend = MemoryBackend::new(2);
        let metrics = Metrics::new();
        let mut session = Session::new(1);
        let set = Command::Consistency(Some((2, 2)));
        assert_eq!(
            execute(set, &mut session, &backend, &metrics).await.0,
            Reply::ok()
        );
        assert_eq!(session.read.level(), 2);
        let too_high = Command::Consistency(Some((3, 1)));
        let (reply, _) = execute(too_high, &mut session, &backend, &metrics).await;
        assert_eq!(
            reply,
            Reply::Error(
                "ERR consistency 3 is out of range: this cluster allows 1..=2 (replicas + 1)"
                    .into()
            )
        );
        assert_eq!(
            session.read.level(),
            2,
            "a rejected change keeps the old levels"
        );
    }

    #[test]
    fn ring_section_summarises_vnodes() {
        let status = serde_json::json!({
            "host": "10.0.0.1:7400",
            "running": true,
            "replicas": 2,
            "vnodes": [{
                "id": "0123456789abcdef0123",
                "predecessor": {"id": "ff", "host": "10.0.0.2:7400"},
                "successors": [{"id": "11", "host": "10.0.0.3:7400"}],
                "ownership": 0.25,
            }],
        });
        let text = ring_section(&status);
        assert!(text.contains("ring_host:10.0.0.1:7400\r\n"), "{text}");
        assert!(text.contains("ring_running:1\r\n"), "{text}");
        assert!(text.contains("ring_vnodes:1\r\n"), "{text}");
        assert!(
            text.contains(
                "vnode0:id=0123456789ab,predecessor=10.0.0.2:7400,successor=10.0.0.3:7400,ownership_pct=25.00\r\n"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn info_has_server_and_dendrite_sections() {
        let backend = MemoryBackend::new(3);
        let metrics = Metrics::new();
        let mut session = Session::new(1);
        let (reply, _) = execute(Command::Info(None), &mut session, &backend, &metrics).await;
        let Reply::Verbatim(text) = reply else {
            panic!("INFO must be verbatim text")
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.starts_with("# Server\r\nredis_version:"), "{text}");
        assert!(text.contains("max_consistency:3\r\n"));
        assert!(text.contains("# Ring\r\n"), "{text}");
        assert!(text.contains("ring_vnodes:0\r\n"), "{text}");
        let (reply, _) = execute(
            Command::Info(Some("keyspace".into())),
            &mut session,
            &backend,
            &metrics,
        )
        .await;
        assert_eq!(reply, Reply::Verbatim("# Keyspace\r\n".into()));
    }

    /// A backend whose multi-key writes always fail and whose single writes refuse the value
    /// `bad`: what a batch with one invalid pair looks like.
    struct RefusesBad(MemoryBackend);

    impl Backend for RefusesBad {
        fn get(
            &self,
            key: Bytes,
            read: Consistency,
        ) -> futures::future::BoxFuture<'static, Result<Option<Bytes>, BackendError>> {
            self.0.get(key, read)
        }
        fn set(
            &self,
            key: Bytes,
            value: Bytes,
            write: Consistency,
        ) -> futures::future::BoxFuture<'static, Result<(), BackendError>> {
            if value == "bad" {
                let refused = Err(BackendError::Invalid("value refused".into()));
                return Box::pin(futures::future::ready(refused));
            }
            self.0.set(key, value, write)
        }
        fn delete(
            &self,
            keys: Vec<Bytes>,
            write: Consistency,
        ) -> futures::future::BoxFuture<'static, Result<usize, BackendError>> {
            self.0.delete(keys, write)
        }
        fn modify(
            &self,
            key: Bytes,
            op: dtable::Modify,
            write: Consistency,
        ) -> futures::future::BoxFuture<'static, Result<dtable::Modified, BackendError>> {
            self.0.modify(key, op, write)
        }
        fn scan(
            &self,
            cursor: u64,
            count: usize,
        ) -> futures::future::BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>> {
            self.0.scan(cursor, count)
        }
        fn get_many(
            &self,
            keys: Vec<Bytes>,
            read: Consistency,
        ) -> futures::future::BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>> {
            self.0.get_many(keys, read)
        }
        fn set_many(
            &self,
            _pairs: Vec<(Bytes, Bytes)>,
            _write: Consistency,
        ) -> futures::future::BoxFuture<'static, Result<(), BackendError>> {
            let refused = Err(BackendError::Invalid("batch refused".into()));
            Box::pin(futures::future::ready(refused))
        }
        fn local_len(&self) -> usize {
            self.0.local_len()
        }
        fn status(&self) -> serde_json::Value {
            self.0.status()
        }
        fn max_consistency(&self) -> u8 {
            self.0.max_consistency()
        }
    }

    #[tokio::test]
    async fn a_failed_set_batch_answers_each_set_on_its_own() {
        let backend = RefusesBad(MemoryBackend::new(1));
        let session = Session::new(1);
        let pair = |k: &str, v: &str| (Bytes::from(k.to_owned()), Bytes::from(v.to_owned()));
        let replies = execute_sets(
            vec![pair("a", "1"), pair("b", "bad"), pair("a", "2")],
            &session,
            &backend,
        )
        .await;
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[0], Reply::ok());
        assert!(replies[1].is_error(), "{replies:?}");
        assert_eq!(replies[2], Reply::ok());
        let values = backend
            .get_many(vec!["a".into(), "b".into()], Consistency::default())
            .await
            .unwrap();
        assert_eq!(values, vec![Some(Bytes::from("2")), None]);
    }
}
