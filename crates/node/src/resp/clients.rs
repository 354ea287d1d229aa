//! What `CLIENT INFO` and `CLIENT LIST` show of each connection.
//!
//! Each connection owns its [`ClientRecord`] (in its `Session`) and publishes a copy to the
//! server's [`ClientRegistry`] after every batch of requests, so listing the other clients
//! costs the request path one short lock per read, not one per command.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

use super::reply::Protocol;

/// One connection as `CLIENT LIST` describes it.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// Server-unique connection id (`CLIENT ID`).
    pub id: u64,
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// The server address it connected to.
    pub laddr: Option<SocketAddr>,
    /// The socket's file descriptor, where there is one.
    pub fd: i64,
    /// Name given with `CLIENT SETNAME` or `HELLO ... SETNAME`.
    pub name: Option<Bytes>,
    /// `CLIENT SETINFO lib-name`.
    pub lib_name: Option<Bytes>,
    /// `CLIENT SETINFO lib-ver`.
    pub lib_ver: Option<Bytes>,
    /// When the connection was accepted.
    pub connected_at: Instant,
    /// When it last sent a command.
    pub last_active: Instant,
    /// The last command it ran, as Redis names it (`client|list`); `NULL` before the first.
    pub last_command: &'static str,
    /// The protocol it speaks.
    pub protocol: Protocol,
}

impl ClientRecord {
    /// A connection accepted now.
    pub fn new(id: u64, addr: Option<SocketAddr>, laddr: Option<SocketAddr>, fd: i64) -> Self {
        let now = Instant::now();
        ClientRecord {
            id,
            addr,
            laddr,
            fd,
            name: None,
            lib_name: None,
            lib_ver: None,
            connected_at: now,
            last_active: now,
            last_command: "NULL",
            protocol: Protocol::Resp2,
        }
    }

    /// The `CLIENT LIST` line, in Redis 7.2's field order, ending in `\n`.
    ///
    /// Dendrite has no per-client buffers of Redis's kind, so the memory and buffer fields
    /// (`qbuf`, `tot-mem`...) are 0; docs/redis-compat.md lists them.
    pub fn line(&self, now: Instant) -> String {
        let text = |value: &Option<Bytes>| {
            value
                .as_ref()
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default()
        };
        let addr = |addr: Option<SocketAddr>| addr.map(|addr| addr.to_string()).unwrap_or_default();
        let mut line = String::with_capacity(300);
        // Writing to a String cannot fail.
        let _ = writeln!(
            line,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db=0 sub=0 psub=0 \
             ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
             omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} \
             lib-ver={}",
            self.id,
            addr(self.addr),
            addr(self.laddr),
            self.fd,
            text(&self.name),
            now.saturating_duration_since(self.connected_at).as_secs(),
            now.saturating_duration_since(self.last_active).as_secs(),
            self.last_command,
            self.protocol.version(),
            text(&self.lib_name),
            text(&self.lib_ver),
        );
        line
    }
}

/// The connections a RESP server has open, for `CLIENT LIST`.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    records: Mutex<BTreeMap<u64, ClientRecord>>,
}

impl ClientRegistry {
    /// An empty registry.
    pub fn new() -> Arc<ClientRegistry> {
        Arc::new(ClientRegistry::default())
    }

    /// Stores the latest copy of a connection's record.
    pub fn publish(&self, record: &ClientRecord) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        match records.get_mut(&record.id) {
            Some(stored) => stored.clone_from(record),
            None => {
                records.insert(record.id, record.clone());
            }
        }
    }

    /// Forgets a closed connection.
    pub fn remove(&self, id: u64) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.remove(&id);
    }

    /// Every connection's record in id order, with `own` (the asking connection's live
    /// record) in place of its published copy.
    pub fn snapshot(&self, own: &ClientRecord) -> Vec<ClientRecord> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<ClientRecord> = records
            .values()
            .filter(|record| record.id != own.id)
            .cloned()
            .collect();
        drop(records);
        let at = all.partition_point(|record| record.id < own.id);
        all.insert(at, own.clone());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_in_id_order_with_the_live_record() {
        let registry = ClientRegistry::new();
        let mut first = ClientRecord::new(1, None, None, 7);
        registry.publish(&first);
        registry.publish(&ClientRecord::new(3, None, None, 9));
        first.name = Some("stale".into());
        let mut own = ClientRecord::new(2, None, None, 8);
        own.name = Some("me".into());
        let ids: Vec<u64> = registry.snapshot(&own).iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        registry.remove(3);
        let listed = registry.snapshot(&own);
        assert_eq!(listed.len(), 2);
        assert!(listed[1].line(Instant::now()).contains(" name=me age=0 "));
        assert!(listed[0]
            .line(Instant::now())
            .starts_with("id=1 addr= laddr= fd=7 name= "));
    }
}
