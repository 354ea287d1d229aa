//! dtable messages as typed enums, and their frame codec: `[type: u8][protobuf payload]`.
//!
//! Two families share the 0x20.. type space (docs/wire.md §5 and §6):
//! - the Go original's messages, 0x20-0x30, kept decodable so an old peer gets a precise answer
//!   (only `Status` -> `Response` is served; the rest are decoded to typed variants and refused);
//! - the versioned protocol, 0x40 and up, which carries [`Version`](crate::version::Version)s instead of wall-clock
//!   timestamps: [`Request::Write`], [`Request::Read`], [`Request::Transfer`],
//!   [`Request::Digest`], [`Request::Scan`], [`Request::Purge`], [`Request::Probe`] and their
//!   replies.
//!
//! Decoding never panics: a frame becomes a [`Request`] or [`Reply`] whose ids are 20 bytes,
//! whose vnodes have a host, whose items carry a full version, or a [`CodecError`](dendrite::CodecError) saying what
//! was wrong (the ring's error type, so a handler can answer it with an `Err` message).

use bytes::Bytes;
use dendrite::{Id, Vnode};

use crate::modify::{Modified, Modify, ModifyError, ModifyMany};
use crate::proto;
use crate::range::IdRange;

mod fields;
mod modify;
mod reply;
mod request;
use crate::record::Record;

/// Message type bytes of the dtable protocol.
pub mod kind {
    /// Go: is dtable running on dest? Reply: `RESPONSE`.
    pub const STATUS: u8 = 0x20;
    /// Go: generic reply (ok, error).
    pub const RESPONSE: u8 = 0x21;
    /// Go: one item (the reply to `GET_ITEM`).
    pub const ITEM: u8 = 0x22;
    /// Go: several items.
    pub const MULTI_ITEM_RESPONSE: u8 = 0x23;
    /// Go: read one key by hash.
    pub const GET_ITEM: u8 = 0x24;
    /// Go: write one item.
    pub const SET_ITEM: u8 = 0x25;
    /// Go: write several items.
    pub const SET_MULTI_ITEM: u8 = 0x26;
    /// Go: drop a replica.
    pub const CLEAR_REPLICA: u8 = 0x27;
    /// Go: write a replica (SetItem shape).
    pub const SET_REPLICA: u8 = 0x28;
    /// Go: update a key's replica information.
    pub const SET_REPLICA_INFO: u8 = 0x29;
    /// Go: promote a replica to primary.
    pub const PROMOTE_KEY: u8 = 0x30;
    /// Versioned write (primary or replica role). Reply: `WRITE_ACK`.
    pub const WRITE: u8 = 0x40;
    /// Answer to `WRITE` and `TRANSFER`.
    pub const WRITE_ACK: u8 = 0x41;
    /// Versioned read of several keys. Reply: `READ_RESP`.
    pub const READ: u8 = 0x42;
    /// Answer to `READ`.
    pub const READ_RESP: u8 = 0x43;
    /// One batch of a range hand-off. Reply: `WRITE_ACK`.
    pub const TRANSFER: u8 = 0x44;
    /// Bucketed digests of a range. Reply: `DIGEST_RESP`.
    pub const DIGEST_REQ: u8 = 0x45;
    /// Answer to `DIGEST_REQ`.
    pub const DIGEST_RESP: u8 = 0x46;
    /// One batch of the records of a range. Reply: `SCAN_RESP`.
    pub const SCAN_REQ: u8 = 0x47;
    /// Answer to `SCAN_REQ`.
    pub const SCAN_RESP: u8 = 0x48;
    /// Drop a range's old tombstones (sent by its primary once every replica holds them).
    /// Reply: `WRITE_ACK`.
    pub const PURGE: u8 = 0x49;
    /// Which incarnation of its table does the node run? Reply: `PROBE_RESP`.
    pub const PROBE: u8 = 0x4A;
    /// Answer to `PROBE`.
    pub const PROBE_RESP: u8 = 0x4B;
    /// A read-modify-write of one key at its primary. Reply: `MODIFY_RESP`.
    pub const MODIFY: u8 = 0x4C;
    /// Answer to `MODIFY` and `MODIFY_MANY`.
    pub const MODIFY_RESP: u8 = 0x4D;
    /// A read-modify-write of several keys with one primary. Reply: `MODIFY_RESP`.
    pub const MODIFY_MANY: u8 = 0x4E;
}

/// What the receiver of a [`Request::Write`] is for its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteRole {
    /// The receiver owns the keys: it applies them, replicates them, and acknowledges once
    /// `min_acks` copies (itself included, `1..=replicas + 1`) hold them.
    Primary {
        /// Copies that must hold the write before the acknowledgement; at least 1.
        min_acks: u32,
    },
    /// The receiver holds a copy: it applies and acknowledges.
    Replica,
}

/// A request a dtable node serves.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Go 0x20: is dtable running on `dest`?
    Status {
        /// Vnode asked.
        dest: Vnode,
    },
    /// Go 0x24: read a key by its hash (not served: it carries no version).
    GetItem {
        /// Vnode asked.
        dest: Vnode,
        /// Ring position of the key.
        key_hash: Id,
        /// Sender.
        origin: Option<Vnode>,
    },
    /// Go 0x25 (`SetItem`) and 0x28 (`SetReplica`, same shape; `replica` tells which).
    SetItem {
        /// Vnode asked.
        dest: Vnode,
        /// The Go item (wall-clock timestamp, no version).
        item: proto::PbdTableItem,
        /// Sender.
        origin: Option<Vnode>,
        /// Go: the write demotes the key.
        demoting: Option<bool>,
        /// Go: acknowledgements wanted.
        min_acks: Option<i32>,
        /// True for `SetReplica` (0x28), false for `SetItem` (0x25).
        replica: bool,
    },
    /// Go 0x26: write several items.
    SetMultiItem {
        /// Vnode asked.
        dest: Vnode,
        /// Sender.
        origin: Option<Vnode>,
        /// The Go items.
        items: Vec<proto::PbdTableItem>,
    },
    /// Go 0x27: drop the replica of a key.
    ClearReplica {
        /// Vnode asked.
        dest: Vnode,
        /// Ring position of the key.
        key_hash: Id,
        /// Go: the key was demoted.
        demoted: bool,
        /// Sender.
        origin: Option<Vnode>,
    },
    /// Go 0x29: update a key's replica information.
    SetReplicaInfo {
        /// Vnode asked.
        dest: Vnode,
        /// Ring position of the key.
        key_hash: Id,
        /// Go replica information.
        replica_info: proto::PbdTableReplicaInfo,
        /// Sender.
        origin: Option<Vnode>,
    },
    /// Go 0x30: promote a replica to primary.
    PromoteKey {
        /// Vnode asked.
        dest: Vnode,
        /// The Go item.
        item: proto::PbdTableItem,
        /// Sender.
        origin: Option<Vnode>,
    },
    /// 0x40: store `items` on `dest`, in the given role. Reply: [`Reply::WriteAck`].
    Write {
        /// Vnode asked.
        dest: Vnode,
        /// Keys and their new records (tombstones for deletes).
        items: Vec<(Bytes, Record)>,
        /// Primary (with its consistency) or replica.
        role: WriteRole,
        /// For a replica write a primary sends for its own writes: that primary, so that the
        /// replica can tell it when a closer vnode acts as the keys' owner
        /// (`table/witness.rs`). `None` for repair, hand-off and retries.
        origin: Option<Vnode>,
    },
    /// 0x42: read `keys` on `dest`. Reply: [`Reply::ReadResp`], one item per key, same order.
    Read {
        /// Vnode asked.
        dest: Vnode,
        /// Keys wanted.
        keys: Vec<Bytes>,
        /// Read as the keys' owner: a vnode that does not own them answers `moved`.
        primary: bool,
    },
    /// 0x44: one batch of a range hand-off to `dest`. Reply: [`Reply::WriteAck`].
    Transfer {
        /// Vnode receiving the range.
        dest: Vnode,
        /// Records of the batch, in ring order.
        items: Vec<(Bytes, Record)>,
        /// True on the last batch.
        done: bool,
    },
    /// 0x45: digests of `range` on `dest`, in `buckets` buckets. Reply: [`Reply::DigestResp`].
    Digest {
        /// Vnode asked.
        dest: Vnode,
        /// Range compared.
        range: IdRange,
        /// Number of buckets, `1..=MAX_BUCKETS`.
        buckets: u32,
    },
    /// 0x47: up to `limit` records of `range` on `dest`, after the key `after`.
    /// Reply: [`Reply::ScanResp`].
    Scan {
        /// Vnode asked.
        dest: Vnode,
        /// Range read.
        range: IdRange,
        /// Cursor: the last key of the previous batch (its position is SHA-1 of it).
        after: Option<Bytes>,
        /// Most records wanted, at least 1.
        limit: u32,
    },
    /// 0x49: drop the tombstones of `range` on `dest` deleted before `before_millis`.
    /// Reply: [`Reply::WriteAck`] with the number dropped.
    Purge {
        /// Vnode asked.
        dest: Vnode,
        /// Range purged.
        range: IdRange,
        /// Hybrid-clock milliseconds: tombstones older than this go.
        before_millis: u64,
    },
    /// 0x4A: which incarnation of its table does the node of `dest` run?
    /// Reply: [`Reply::ProbeResp`].
    Probe {
        /// Vnode asked (any vnode of the node: the incarnation is the node's).
        dest: Vnode,
        /// The asking node's host and incarnation, so the receiver learns of a restart at
        /// once (`None` from a peer that does not say).
        sender: Option<(String, u64)>,
    },
    /// 0x4C: apply `op` to `key` as its primary, as one step, and answer once `min_acks`
    /// copies hold the result. Reply: [`Reply::ModifyResp`].
    Modify {
        /// The key's primary.
        dest: Vnode,
        /// The key.
        key: Bytes,
        /// What to do to its value.
        op: Modify,
        /// Copies that must hold the result before the answer; at least 1.
        min_acks: u32,
    },
    /// 0x4E: apply `op` to `keys`, all owned by `dest`, as one step, and answer once
    /// `min_acks` copies hold the result. Reply: [`Reply::ModifyResp`].
    ModifyMany {
        /// The keys' primary.
        dest: Vnode,
        /// The keys, in the roles `op` gives them.
        keys: Vec<Bytes>,
        /// What to do to them.
        op: ModifyMany,
        /// Copies that must hold the result before the answer; at least 1.
        min_acks: u32,
    },
}

/// What a primary answers to a [`Request::Modify`] or [`Request::ModifyMany`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModifyAnswer {
    /// Applied (and replicated as asked); the operation's answer.
    Done(Modified),
    /// The operation does not apply to the value (not an integer...): nothing changed.
    Refused(ModifyError),
    /// Failed (consistency not reached, range being taken over...): the reason.
    Failed(String),
    /// The receiver does not own the key: ask this vnode.
    Moved(Vnode),
}

/// One answer of a [`Reply::ReadResp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadItem {
    /// The key asked.
    pub key: Bytes,
    /// What the vnode holds (a tombstone if deleted), or `None` if it never saw the key.
    pub record: Option<Record>,
}

/// A reply to a dtable request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Go 0x21: generic reply.
    Response {
        /// Whether the request succeeded.
        ok: bool,
        /// Why not, when it did not.
        error: Option<String>,
    },
    /// Go 0x22: one item (boxed: the Go item is large and rarely seen).
    Item(Box<proto::PbdTableItem>),
    /// Go 0x23: several items.
    MultiItemResponse {
        /// Sender.
        origin: Option<Vnode>,
        /// The Go items.
        items: Vec<proto::PbdTableItem>,
    },
    /// 0x41: answer to [`Request::Write`] and [`Request::Transfer`].
    WriteAck {
        /// Items that were newer than what the receiver held.
        applied: u32,
        /// Present when the request failed (e.g. consistency not reached).
        error: Option<String>,
        /// Present when the receiver does not own the keys: the vnode to ask instead.
        moved: Option<Vnode>,
    },
    /// 0x43: answer to [`Request::Read`].
    ReadResp {
        /// One per key asked, same order (empty when `moved`).
        items: Vec<ReadItem>,
        /// Present when the receiver does not own the keys: the vnode to ask instead.
        moved: Option<Vnode>,
        /// The receiver, read as owner, holds a complete copy of the range of every key asked:
        /// an item without a record means the key is absent. When false, only a record is an
        /// answer; "not found" must be confirmed by the other copies.
        authoritative: bool,
    },
    /// 0x46: answer to [`Request::Digest`].
    DigestResp {
        /// One digest per bucket, in ring order.
        buckets: Vec<u64>,
        /// The answering node's incarnation (see [`Request::Probe`]).
        incarnation: u64,
    },
    /// 0x48: answer to [`Request::Scan`].
    ScanResp {
        /// Records of the batch, in ring order.
        items: Vec<(Bytes, Record)>,
        /// False when the range is exhausted.
        more: bool,
    },
    /// 0x4D: answer to [`Request::Modify`].
    ModifyResp(ModifyAnswer),
    /// 0x4B: answer to [`Request::Probe`].
    ProbeResp {
        /// Drawn afresh each time the node's table starts: a changed incarnation means the
        /// node restarted (and lost what it held in memory).
        incarnation: u64,
        /// Where clients reach the answering node (`host:port` of its RESP endpoint), when it
        /// serves clients; older peers do not say.
        client_address: Option<String>,
        /// Where operators reach the answering node's console (`host:port` of its HTTP
        /// endpoint), when it serves one; older peers do not say.
        console_address: Option<String>,
    },
}

#[cfg(test)]
mod tests;
