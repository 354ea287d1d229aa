//! The connection commands: `HELLO`, `CLIENT ...`, `TIME` — what clients send to set up and
//! describe their connection rather than to touch keys.

use super::commands::{bulk_or_nil, eq_ignore_case, parse_integer, syntax_error, REDIS_VERSION};
use super::session::Session;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::auth::authenticate;
use super::reply::Protocol;
use super::Reply;

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

/// `CLIENT LIST`'s options, in Redis's wording of errors.
pub(super) fn parse_client_filter(
    operands: impl Iterator<Item = Bytes>,
) -> Result<ClientFilter, Reply> {
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
pub(super) fn is_client_attribute(value: &[u8]) -> bool {
    value.iter().all(|byte| (b'!'..=b'~').contains(byte))
}

/// `HELLO`'s arguments after the name, in Redis's order and wording: the version is checked
/// before the options.
pub(super) fn parse_hello(args: Vec<Bytes>) -> Result<Hello, Reply> {
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

/// `TIME`: seconds and microseconds since the Unix epoch, as two bulk strings.
pub(super) fn time_reply() -> Reply {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::text(&since_epoch.as_secs().to_string()),
        Reply::text(&since_epoch.subsec_micros().to_string()),
    ])
}

/// `CLIENT` subcommands.
pub(super) fn client_reply(client: ClientCommand, session: &mut Session) -> Reply {
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
pub(super) fn set_client_name(session: &mut Session, name: Bytes) -> Result<(), Reply> {
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
pub(super) fn hello_reply(hello: Hello, session: &mut Session) -> Reply {
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
        (Reply::text("mode"), Reply::text("cluster")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ])
}
