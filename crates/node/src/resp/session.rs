//! What one connection carries between commands: protocol, consistency levels, login, name.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::backend::Consistency;

use super::auth::Password;
use super::clients::{ClientRecord, ClientRegistry};
use super::reply::Protocol;
use super::spec::{self};
use super::Reply;

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
    /// Whether the connection behaves as a Redis Cluster client (it sent `CLUSTER` or
    /// `READONLY`, or the server redirects everyone): keys whose primary is elsewhere are
    /// answered `MOVED`, multi-key commands across slots `CROSSSLOT` (docs/redis-compat.md).
    pub cluster_client: bool,
    /// `READONLY`: reads of slots this node holds a replica of are served here.
    pub readonly: bool,
    /// `ASKING` was the previous command: the next one is served here even if the slot map
    /// names another node (the client follows an `ASK`); cleared by the next command.
    pub asking: bool,
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
            cluster_client: false,
            readonly: false,
            asking: false,
        }
    }

    /// Server-unique connection id (`CLIENT ID`).
    pub fn client_id(&self) -> u64 {
        self.record.id
    }

    pub(crate) fn id_reply(&self) -> Reply {
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
    pub(crate) fn reset(&mut self) {
        self.read = Consistency::ONE;
        self.write = Consistency::ONE;
        self.authenticated = self.requirepass.is_none();
        self.protocol = Protocol::Resp2;
        self.record.protocol = Protocol::Resp2;
        self.record.name = None;
        self.readonly = false;
        self.asking = false;
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
