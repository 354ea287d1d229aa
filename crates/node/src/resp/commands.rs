//! Turning request argument vectors into replies.
//!
//! [`Command::parse`] is pure (name lookup, arity, syntax) so the Redis
//! wording of every error can be unit tested; [`execute`] performs a parsed
//! command against the [`Backend`] with the connection's [`Session`].

use bytes::Bytes;

use crate::backend::{Backend, BackendError, Consistency};
use crate::metrics::Metrics;

use super::auth::{authenticate, Password};
use super::Reply;

/// Per-connection state that commands can change.
#[derive(Debug, Clone)]
pub struct Session {
    /// Replicas that must answer reads (set with `CONSISTENCY`).
    pub read: Consistency,
    /// Replicas that must acknowledge writes (set with `CONSISTENCY`).
    pub write: Consistency,
    /// Name given with `CLIENT SETNAME`.
    pub client_name: Option<Bytes>,
    /// Server-unique connection id (`CLIENT ID`).
    pub client_id: u64,
    /// The password clients must give with `AUTH`; `None` lets everyone in.
    pub requirepass: Option<Password>,
    /// Whether this connection may run commands (always, without a password).
    pub authenticated: bool,
}

impl Session {
    /// A new connection's session: consistency 1 for reads and writes.
    pub fn new(client_id: u64) -> Session {
        Session::with_password(client_id, None)
    }

    /// A new connection's session that must `AUTH` with `requirepass` first, if one is set.
    pub fn with_password(client_id: u64, requirepass: Option<Password>) -> Session {
        Session {
            read: Consistency::ONE,
            write: Consistency::ONE,
            client_name: None,
            client_id,
            authenticated: requirepass.is_none(),
            requirepass,
        }
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

/// `CLIENT` subcommands that do something; the rest answer `+OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// `CLIENT SETNAME name`
    SetName(Bytes),
    /// `CLIENT GETNAME`
    GetName,
    /// `CLIENT ID`
    Id,
    /// Anything else (`SETINFO`, `NO-EVICT`...): accepted and ignored.
    Other,
}

/// `COMMAND` subcommands; enough for `redis-cli` to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandQuery {
    /// `COMMAND COUNT`
    Count,
    /// `COMMAND`, `COMMAND DOCS`, `COMMAND INFO`...: an empty array.
    Listing,
}

/// The options of a `HELLO` request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// The protocol version asked for; only 2 is served.
    pub protover: Option<i64>,
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
    /// `COMMAND [subcommand]`
    CommandQuery(CommandQuery),
    /// `QUIT`
    Quit,
    /// `SELECT index`
    Select(i64),
    /// `CLIENT subcommand ...`
    Client(ClientCommand),
    /// `HELLO [protover [AUTH user password] [SETNAME name]]`: only RESP2 is spoken.
    Hello(Hello),
    /// `AUTH [user] password`
    Auth {
        /// The user name; only `default` exists.
        user: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// `CONFIG GET pattern` answers an empty list, other subcommands `+OK`,
    /// so tools that probe the configuration (redis-benchmark) carry on.
    Config {
        /// Whether this was `CONFIG GET`.
        get: bool,
    },
    /// `CONSISTENCY` (show) or `CONSISTENCY read write` (set).
    Consistency(Option<(u8, u8)>),
}

/// Arity in Redis's convention: positive is exact (including the name),
/// negative is a minimum.
fn arity(name: &str) -> Option<(&'static str, i32)> {
    let entry = match name {
        "ping" => ("ping", -1),
        "echo" => ("echo", 2),
        "get" => ("get", 2),
        "set" => ("set", -3),
        "del" => ("del", -2),
        "exists" => ("exists", -2),
        "mget" => ("mget", -2),
        "mset" => ("mset", -3),
        "dbsize" => ("dbsize", 1),
        "info" => ("info", -1),
        "command" => ("command", -1),
        "quit" => ("quit", -1),
        "select" => ("select", 2),
        "client" => ("client", -2),
        "hello" => ("hello", -1),
        "auth" => ("auth", -2),
        "config" => ("config", -2),
        "consistency" | "dendrite.consistency" => ("consistency", -1),
        _ => return None,
    };
    Some(entry)
}

/// The canonical lowercase name of a request's command, for metrics;
/// `unknown` if it is not one we serve.
pub fn canonical_name(args: &[Bytes]) -> &'static str {
    args.first()
        .and_then(|name| command_entry(name))
        .map_or("unknown", |(name, _)| name)
}

/// The table entry (canonical name, arity) of the command named `name`, in any letter case.
/// Lowercases on the stack: this runs for every request, twice.
fn command_entry(name: &[u8]) -> Option<(&'static str, i32)> {
    /// Longer than any command we serve.
    const LONGEST: usize = 24;
    if name.len() > LONGEST {
        return None;
    }
    let mut lower = [0u8; LONGEST];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    arity(std::str::from_utf8(lower).ok()?)
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

fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

fn parse_integer(arg: &[u8]) -> Option<i64> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

fn eq_ignore_case(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

impl Command {
    /// Validates a request (name first); an `Err` is the reply to send.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        let Some(first) = args.first() else {
            return Err(unknown_command(&args));
        };
        let Some((name, arity)) = command_entry(first) else {
            return Err(unknown_command(&args));
        };
        let argc = args.len() as i64;
        let fits = if arity > 0 {
            argc == i64::from(arity)
        } else {
            argc >= i64::from(-arity)
        };
        if !fits {
            return Err(wrong_arity(name));
        }
        let mut rest = args.into_iter().skip(1);
        let mut next = || rest.next().unwrap_or_default();
        let command = match name {
            "ping" => match argc {
                1 => Command::Ping(None),
                2 => Command::Ping(Some(next())),
                _ => return Err(wrong_arity(name)),
            },
            "echo" => Command::Echo(next()),
            "get" => Command::Get(next()),
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
                    return Err(wrong_arity(name));
                }
                Command::MSet((0..argc / 2).map(|_| (next(), next())).collect())
            }
            "dbsize" => Command::DbSize,
            "info" => match argc {
                1 => Command::Info(None),
                2 => Command::Info(Some(String::from_utf8_lossy(&next()).to_ascii_lowercase())),
                _ => return Err(syntax_error()),
            },
            "command" => {
                let sub = next();
                if argc >= 2 && eq_ignore_case(&sub, "count") {
                    Command::CommandQuery(CommandQuery::Count)
                } else {
                    Command::CommandQuery(CommandQuery::Listing)
                }
            }
            "quit" => Command::Quit,
            "select" => Command::Select(parse_integer(&next()).ok_or_else(not_an_integer)?),
            "client" => {
                let sub = next();
                let client = if eq_ignore_case(&sub, "setname") {
                    if argc != 3 {
                        return Err(Reply::err(
                            "wrong number of arguments for 'client|setname' command",
                        ));
                    }
                    ClientCommand::SetName(next())
                } else if eq_ignore_case(&sub, "getname") {
                    ClientCommand::GetName
                } else if eq_ignore_case(&sub, "id") {
                    ClientCommand::Id
                } else {
                    ClientCommand::Other
                };
                Command::Client(client)
            }
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
            "config" => Command::Config {
                get: eq_ignore_case(&next(), "get"),
            },
            "consistency" => {
                match argc {
                    1 => Command::Consistency(None),
                    3 => {
                        let mut level = || {
                            parse_integer(&next())
                            .and_then(|level| u8::try_from(level).ok())
                            .ok_or_else(|| {
                                Reply::err("consistency levels must be integers from 1 to replicas + 1")
                            })
                        };
                        let read = level()?;
                        let write = level()?;
                        Command::Consistency(Some((read, write)))
                    }
                    _ => return Err(wrong_arity(name)),
                }
            }
            _ => return Err(unknown_command(&[first_or_empty(name)])),
        };
        Ok(command)
    }
}

/// `HELLO`'s arguments after the name, in Redis's order and wording.
fn parse_hello(args: Vec<Bytes>) -> Result<Hello, Reply> {
    let mut hello = Hello::default();
    let mut args = args.into_iter();
    let Some(protover) = args.next() else {
        return Ok(hello);
    };
    hello.protover = Some(
        parse_integer(&protover)
            .ok_or_else(|| Reply::err("Protocol version is not an integer or out of range"))?,
    );
    while let Some(option) = args.next() {
        if eq_ignore_case(&option, "auth") {
            match (args.next(), args.next()) {
                (Some(user), Some(password)) => hello.auth = Some((user, password)),
                _ => return Err(hello_option_error(&option)),
            }
        } else if eq_ignore_case(&option, "setname") {
            match args.next() {
                Some(name) => hello.setname = Some(name),
                None => return Err(hello_option_error(&option)),
            }
        } else {
            return Err(hello_option_error(&option));
        }
    }
    Ok(hello)
}

fn hello_option_error(option: &[u8]) -> Reply {
    Reply::err(format!(
        "Syntax error in HELLO option '{}'",
        String::from_utf8_lossy(option)
    ))
}

fn first_or_empty(name: &str) -> Bytes {
    Bytes::copy_from_slice(name.as_bytes())
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
        BackendError::Consistency { .. } | BackendError::Invalid(_) | BackendError::Internal(_) => {
            Reply::err(error)
        }
    }
}

fn from_backend<T>(outcome: Result<T, BackendError>, reply: impl FnOnce(T) -> Reply) -> Reply {
    match outcome {
        Ok(value) => reply(value),
        Err(error) => backend_error_reply(&error),
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
            Reply::Bulk(info_text(section.as_deref(), session, backend, metrics).into())
        }
        Command::CommandQuery(CommandQuery::Count) => Reply::Integer(0),
        Command::CommandQuery(CommandQuery::Listing) => Reply::Array(Vec::new()),
        Command::Quit => return (Reply::ok(), Flow::Close),
        Command::Select(0) => Reply::ok(),
        Command::Select(_) => Reply::err("DB index is out of range"),
        Command::Client(ClientCommand::SetName(name)) => match set_client_name(session, name) {
            Ok(()) => Reply::ok(),
            Err(reply) => reply,
        },
        Command::Client(ClientCommand::GetName) => bulk_or_nil(session.client_name.clone()),
        Command::Client(ClientCommand::Id) => {
            Reply::Integer(i64::try_from(session.client_id).unwrap_or(i64::MAX))
        }
        Command::Client(ClientCommand::Other) => Reply::ok(),
        Command::Config { get: true } => Reply::Array(Vec::new()),
        Command::Config { get: false } => Reply::ok(),
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

/// `CLIENT SETNAME` rules: printable ASCII without spaces; empty clears the name.
fn set_client_name(session: &mut Session, name: Bytes) -> Result<(), Reply> {
    if name.iter().any(|byte| !(b'!'..=b'~').contains(byte)) {
        return Err(Reply::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    session.client_name = (!name.is_empty()).then_some(name);
    Ok(())
}

/// `HELLO`: optionally logs in and names the client, then describes the server as a
/// RESP2 flat list of field/value pairs. Only protocol 2 is served (no RESP3).
fn hello_reply(hello: Hello, session: &mut Session) -> Reply {
    if hello.protover.is_some_and(|version| version != 2) {
        return Reply::Error("NOPROTO sorry, this protocol version is not supported".into());
    }
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
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time"
                .into(),
        );
    }
    if let Some(name) = hello.setname {
        if let Err(reply) = set_client_name(session, name) {
            return reply;
        }
    }
    let text = |value: &str| Reply::Bulk(Bytes::copy_from_slice(value.as_bytes()));
    Reply::Array(vec![
        text("server"),
        text("redis"),
        text("version"),
        text("7.0.0"),
        text("proto"),
        Reply::Integer(2),
        text("id"),
        Reply::Integer(i64::try_from(session.client_id).unwrap_or(i64::MAX)),
        text("mode"),
        text("standalone"),
        text("role"),
        text("master"),
        text("modules"),
        Reply::Array(Vec::new()),
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
                "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\ndendrite_version:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\n",
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
            format!("# Keyspace\r\ndb0:keys={},expires=0,avg_ttl=0\r\n", backend.local_len()),
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
        assert_eq!(error_text(&["set", "k", "v", "NX"]), "ERR syntax error");
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
            Ok(Command::CommandQuery(CommandQuery::Listing))
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
        let Reply::Bulk(text) = reply else {
            panic!("INFO must be a bulk string")
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
        assert_eq!(
            reply,
            Reply::Bulk("# Keyspace\r\ndb0:keys=0,expires=0,avg_ttl=0\r\n".into())
        );
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
