//! dtable messages as typed enums, and their frame codec: `[type: u8][protobuf payload]`.
//!
//! Two families share the 0x20.. type space (docs/wire.md §5 and §6):
//! - the Go original's messages, 0x20-0x30, kept decodable so an old peer gets a precise answer
//!   (only `Status` -> `Response` is served; the rest are decoded to typed variants and refused);
//! - the versioned protocol, 0x40 and up, which carries [`Version`]s instead of wall-clock
//!   timestamps: [`Request::Write`], [`Request::Read`], [`Request::Transfer`],
//!   [`Request::Digest`], [`Request::Scan`], [`Request::Purge`], [`Request::Probe`] and their
//!   replies.
//!
//! Decoding never panics: a frame becomes a [`Request`] or [`Reply`] whose ids are 20 bytes,
//! whose vnodes have a host, whose items carry a full version, or a [`CodecError`] saying what
//! was wrong (the ring's error type, so a handler can answer it with an `Err` message).

use bytes::Bytes;
use dendrite::message::{decode_payload, frame, vnode_from_proto, vnode_to_proto, MAX_FRAME_LEN};
use dendrite::{CodecError, Id, Vnode};

use crate::modify::{Modified, Modify, ModifyError, ModifyMany};
use crate::proto;
use crate::range::{IdRange, MAX_BUCKETS};

mod modify;
use crate::record::Record;
use crate::version::Version;

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
    },
}

impl Request {
    /// The type byte of this request.
    pub fn kind(&self) -> u8 {
        match self {
            Request::Status { .. } => kind::STATUS,
            Request::GetItem { .. } => kind::GET_ITEM,
            Request::SetItem { replica: false, .. } => kind::SET_ITEM,
            Request::SetItem { replica: true, .. } => kind::SET_REPLICA,
            Request::SetMultiItem { .. } => kind::SET_MULTI_ITEM,
            Request::ClearReplica { .. } => kind::CLEAR_REPLICA,
            Request::SetReplicaInfo { .. } => kind::SET_REPLICA_INFO,
            Request::PromoteKey { .. } => kind::PROMOTE_KEY,
            Request::Write { .. } => kind::WRITE,
            Request::Read { .. } => kind::READ,
            Request::Transfer { .. } => kind::TRANSFER,
            Request::Digest { .. } => kind::DIGEST_REQ,
            Request::Scan { .. } => kind::SCAN_REQ,
            Request::Purge { .. } => kind::PURGE,
            Request::Probe { .. } => kind::PROBE,
            Request::Modify { .. } => kind::MODIFY,
            Request::ModifyMany { .. } => kind::MODIFY_MANY,
        }
    }

    /// The vnode the request is addressed to.
    pub fn dest(&self) -> &Vnode {
        match self {
            Request::Status { dest }
            | Request::GetItem { dest, .. }
            | Request::SetItem { dest, .. }
            | Request::SetMultiItem { dest, .. }
            | Request::ClearReplica { dest, .. }
            | Request::SetReplicaInfo { dest, .. }
            | Request::PromoteKey { dest, .. }
            | Request::Write { dest, .. }
            | Request::Read { dest, .. }
            | Request::Transfer { dest, .. }
            | Request::Digest { dest, .. }
            | Request::Scan { dest, .. }
            | Request::Purge { dest, .. }
            | Request::Probe { dest, .. }
            | Request::Modify { dest, .. }
            | Request::ModifyMany { dest, .. } => dest,
        }
    }

    /// Encodes into one frame: type byte, then the protobuf payload.
    pub fn encode(&self) -> Bytes {
        let k = self.kind();
        match self {
            Request::Status { dest } => frame(
                k,
                &proto::PbdTableStatus {
                    dest: vnode_to_proto(dest),
                },
            ),
            Request::GetItem {
                dest,
                key_hash,
                origin,
            } => frame(
                k,
                &proto::PbdTableGetItem {
                    dest: vnode_to_proto(dest),
                    key_hash: id_bytes(key_hash),
                    origin: origin.as_ref().map(vnode_to_proto),
                },
            ),
            Request::SetItem {
                dest,
                item,
                origin,
                demoting,
                min_acks,
                replica: _,
            } => frame(
                k,
                &proto::PbdTableSetItem {
                    dest: vnode_to_proto(dest),
                    item: item.clone(),
                    origin: origin.as_ref().map(vnode_to_proto),
                    demoting: *demoting,
                    min_acks: *min_acks,
                },
            ),
            Request::SetMultiItem {
                dest,
                origin,
                items,
            } => frame(
                k,
                &proto::PbdTableSetMultiItem {
                    dest: vnode_to_proto(dest),
                    origin: origin.as_ref().map(vnode_to_proto),
                    items: items.clone(),
                },
            ),
            Request::ClearReplica {
                dest,
                key_hash,
                demoted,
                origin,
            } => frame(
                k,
                &proto::PbdTableClearReplica {
                    dest: vnode_to_proto(dest),
                    key_hash: id_bytes(key_hash),
                    demoted: *demoted,
                    origin: origin.as_ref().map(vnode_to_proto),
                },
            ),
            Request::SetReplicaInfo {
                dest,
                key_hash,
                replica_info,
                origin,
            } => frame(
                k,
                &proto::PbdTableSetReplicaInfo {
                    dest: vnode_to_proto(dest),
                    key_hash: id_bytes(key_hash),
                    replica_info: replica_info.clone(),
                    origin: origin.as_ref().map(vnode_to_proto),
                },
            ),
            Request::PromoteKey { dest, item, origin } => frame(
                k,
                &proto::PbdTablePromoteKey {
                    dest: vnode_to_proto(dest),
                    item: item.clone(),
                    origin: origin.as_ref().map(vnode_to_proto),
                },
            ),
            Request::Write { dest, items, role } => {
                let (role, min_acks) = match role {
                    WriteRole::Primary { min_acks } => {
                        (proto::PbdTableWriteRole::Primary, Some(*min_acks))
                    }
                    WriteRole::Replica => (proto::PbdTableWriteRole::Replica, None),
                };
                frame(
                    k,
                    &proto::PbdTableWrite {
                        dest: Some(vnode_to_proto(dest)),
                        items: items_to_proto(items),
                        role: Some(role as i32),
                        min_acks,
                    },
                )
            }
            Request::Read {
                dest,
                keys,
                primary,
            } => frame(
                k,
                &proto::PbdTableRead {
                    dest: Some(vnode_to_proto(dest)),
                    keys: keys.clone(),
                    primary: Some(*primary),
                },
            ),
            Request::Transfer { dest, items, done } => frame(
                k,
                &proto::PbdTableTransfer {
                    dest: Some(vnode_to_proto(dest)),
                    items: items_to_proto(items),
                    done: Some(*done),
                },
            ),
            Request::Digest {
                dest,
                range,
                buckets,
            } => frame(
                k,
                &proto::PbdTableDigestReq {
                    dest: Some(vnode_to_proto(dest)),
                    from: Some(id_bytes(&range.from)),
                    to: Some(id_bytes(&range.to)),
                    buckets: Some(*buckets),
                },
            ),
            Request::Scan {
                dest,
                range,
                after,
                limit,
            } => frame(
                k,
                &proto::PbdTableScanReq {
                    dest: Some(vnode_to_proto(dest)),
                    from: Some(id_bytes(&range.from)),
                    to: Some(id_bytes(&range.to)),
                    after_key: after.clone(),
                    limit: Some(*limit),
                },
            ),
            Request::Purge {
                dest,
                range,
                before_millis,
            } => frame(
                k,
                &proto::PbdTablePurge {
                    dest: Some(vnode_to_proto(dest)),
                    from: Some(id_bytes(&range.from)),
                    to: Some(id_bytes(&range.to)),
                    before: Some(*before_millis),
                },
            ),
            Request::Probe { dest, sender } => frame(
                k,
                &proto::PbdTableProbe {
                    dest: Some(vnode_to_proto(dest)),
                    sender_host: sender.as_ref().map(|(host, _)| host.clone()),
                    sender_incarnation: sender.as_ref().map(|(_, incarnation)| *incarnation),
                },
            ),
            Request::Modify {
                dest,
                key,
                op,
                min_acks,
            } => frame(k, &modify::request_to_proto(dest, key, op, *min_acks)),
            Request::ModifyMany {
                dest,
                keys,
                op,
                min_acks,
            } => frame(k, &modify::many_to_proto(dest, keys, op, *min_acks)),
        }
    }

    /// Decodes one whole frame (type byte first).
    pub fn decode(frame: Bytes) -> Result<Request, CodecError> {
        let (kind, payload) = split_frame(frame)?;
        Request::decode_payload(kind, payload)
    }

    /// Decodes a payload whose type byte was already read (what an extension handler gets).
    pub fn decode_payload(kind: u8, payload: Bytes) -> Result<Request, CodecError> {
        let k = kind;
        Ok(match kind {
            kind::STATUS => {
                let m: proto::PbdTableStatus = decode_payload(k, payload, &[(1, "dest")])?;
                Request::Status {
                    dest: vnode_from_proto(k, m.dest)?,
                }
            }
            kind::GET_ITEM => {
                let m: proto::PbdTableGetItem =
                    decode_payload(k, payload, &[(1, "dest"), (2, "keyHash")])?;
                Request::GetItem {
                    dest: vnode_from_proto(k, m.dest)?,
                    key_hash: id_from_bytes(k, &m.key_hash, "keyHash (must be a 20-byte id)")?,
                    origin: optional_vnode(k, m.origin)?,
                }
            }
            kind::SET_ITEM | kind::SET_REPLICA => {
                let m: proto::PbdTableSetItem =
                    decode_payload(k, payload, &[(1, "dest"), (2, "item")])?;
                Request::SetItem {
                    dest: vnode_from_proto(k, m.dest)?,
                    item: m.item,
                    origin: optional_vnode(k, m.origin)?,
                    demoting: m.demoting,
                    min_acks: m.min_acks,
                    replica: k == kind::SET_REPLICA,
                }
            }
            kind::SET_MULTI_ITEM => {
                let m: proto::PbdTableSetMultiItem = decode_payload(k, payload, &[(1, "dest")])?;
                Request::SetMultiItem {
                    dest: vnode_from_proto(k, m.dest)?,
                    origin: optional_vnode(k, m.origin)?,
                    items: m.items,
                }
            }
            kind::CLEAR_REPLICA => {
                let m: proto::PbdTableClearReplica =
                    decode_payload(k, payload, &[(1, "dest"), (2, "keyHash"), (3, "demoted")])?;
                Request::ClearReplica {
                    dest: vnode_from_proto(k, m.dest)?,
                    key_hash: id_from_bytes(k, &m.key_hash, "keyHash (must be a 20-byte id)")?,
                    demoted: m.demoted,
                    origin: optional_vnode(k, m.origin)?,
                }
            }
            kind::SET_REPLICA_INFO => {
                let m: proto::PbdTableSetReplicaInfo = decode_payload(
                    k,
                    payload,
                    &[(1, "dest"), (2, "keyHash"), (3, "replicaInfo")],
                )?;
                Request::SetReplicaInfo {
                    dest: vnode_from_proto(k, m.dest)?,
                    key_hash: id_from_bytes(k, &m.key_hash, "keyHash (must be a 20-byte id)")?,
                    replica_info: m.replica_info,
                    origin: optional_vnode(k, m.origin)?,
                }
            }
            kind::PROMOTE_KEY => {
                let m: proto::PbdTablePromoteKey =
                    decode_payload(k, payload, &[(1, "dest"), (2, "item")])?;
                Request::PromoteKey {
                    dest: vnode_from_proto(k, m.dest)?,
                    item: m.item,
                    origin: optional_vnode(k, m.origin)?,
                }
            }
            kind::WRITE => {
                let m: proto::PbdTableWrite = decode_payload(k, payload, &[])?;
                let role = match m.role {
                    None => return Err(missing(k, "role")),
                    Some(r) if r == proto::PbdTableWriteRole::Replica as i32 => WriteRole::Replica,
                    Some(r) if r == proto::PbdTableWriteRole::Primary as i32 => match m.min_acks {
                        None => return Err(missing(k, "minAcks")),
                        Some(0) => return Err(invalid(k, "minAcks (must be at least 1)")),
                        Some(min_acks) => WriteRole::Primary { min_acks },
                    },
                    Some(_) => return Err(invalid(k, "role (unknown value)")),
                };
                Request::Write {
                    dest: required_vnode(k, m.dest)?,
                    items: items_from_proto(k, m.items)?,
                    role,
                }
            }
            kind::READ => {
                let m: proto::PbdTableRead = decode_payload(k, payload, &[])?;
                Request::Read {
                    dest: required_vnode(k, m.dest)?,
                    keys: m.keys,
                    primary: m.primary.unwrap_or(false),
                }
            }
            kind::TRANSFER => {
                let m: proto::PbdTableTransfer = decode_payload(k, payload, &[])?;
                Request::Transfer {
                    dest: required_vnode(k, m.dest)?,
                    items: items_from_proto(k, m.items)?,
                    done: m.done.ok_or_else(|| missing(k, "done"))?,
                }
            }
            kind::DIGEST_REQ => {
                let m: proto::PbdTableDigestReq = decode_payload(k, payload, &[])?;
                let buckets = m.buckets.ok_or_else(|| missing(k, "buckets"))?;
                if buckets == 0 || buckets as usize > MAX_BUCKETS {
                    return Err(invalid(k, "buckets (must be 1..=4096)"));
                }
                Request::Digest {
                    dest: required_vnode(k, m.dest)?,
                    range: range_from_proto(k, m.from, m.to)?,
                    buckets,
                }
            }
            kind::SCAN_REQ => {
                let m: proto::PbdTableScanReq = decode_payload(k, payload, &[])?;
                let limit = m.limit.ok_or_else(|| missing(k, "limit"))?;
                if limit == 0 {
                    return Err(invalid(k, "limit (must be at least 1)"));
                }
                Request::Scan {
                    dest: required_vnode(k, m.dest)?,
                    range: range_from_proto(k, m.from, m.to)?,
                    after: m.after_key,
                    limit,
                }
            }
            kind::PURGE => {
                let m: proto::PbdTablePurge = decode_payload(k, payload, &[])?;
                Request::Purge {
                    dest: required_vnode(k, m.dest)?,
                    range: range_from_proto(k, m.from, m.to)?,
                    before_millis: m.before.ok_or_else(|| missing(k, "before"))?,
                }
            }
            kind::PROBE => {
                let m: proto::PbdTableProbe = decode_payload(k, payload, &[])?;
                let sender = match (m.sender_host, m.sender_incarnation) {
                    (Some(host), Some(incarnation)) if !host.is_empty() => {
                        Some((host, incarnation))
                    }
                    (None, None) => None,
                    _ => return Err(invalid(k, "sender (a host and an incarnation, or neither)")),
                };
                Request::Probe {
                    dest: required_vnode(k, m.dest)?,
                    sender,
                }
            }
            kind::MODIFY => {
                let m: proto::PbdTableModify = decode_payload(k, payload, &[])?;
                let (dest, key, op, min_acks) = modify::request_from_proto(k, m)?;
                Request::Modify {
                    dest,
                    key,
                    op,
                    min_acks,
                }
            }
            kind::MODIFY_MANY => {
                let m: proto::PbdTableModifyMany = decode_payload(k, payload, &[])?;
                let (dest, keys, op, min_acks) = modify::many_from_proto(k, m)?;
                Request::ModifyMany {
                    dest,
                    keys,
                    op,
                    min_acks,
                }
            }
            other => return Err(CodecError::UnknownType(other)),
        })
    }
}

impl Reply {
    /// The type byte of this reply.
    pub fn kind(&self) -> u8 {
        match self {
            Reply::Response { .. } => kind::RESPONSE,
            Reply::Item(_) => kind::ITEM,
            Reply::MultiItemResponse { .. } => kind::MULTI_ITEM_RESPONSE,
            Reply::WriteAck { .. } => kind::WRITE_ACK,
            Reply::ReadResp { .. } => kind::READ_RESP,
            Reply::DigestResp { .. } => kind::DIGEST_RESP,
            Reply::ScanResp { .. } => kind::SCAN_RESP,
            Reply::ProbeResp { .. } => kind::PROBE_RESP,
            Reply::ModifyResp(_) => kind::MODIFY_RESP,
        }
    }

    /// A failed `Response` (the answer to Go requests this node does not serve).
    pub fn refused(error: impl Into<String>) -> Reply {
        Reply::Response {
            ok: false,
            error: Some(error.into()),
        }
    }

    /// Encodes into one frame: type byte, then the protobuf payload.
    pub fn encode(&self) -> Bytes {
        let k = self.kind();
        match self {
            Reply::Response { ok, error } => frame(
                k,
                &proto::PbdTableResponse {
                    ok: *ok,
                    error: error.clone(),
                },
            ),
            Reply::Item(item) => frame(k, item.as_ref()),
            Reply::MultiItemResponse { origin, items } => frame(
                k,
                &proto::PbdTableMultiItemResponse {
                    origin: origin.as_ref().map(vnode_to_proto),
                    items: items.clone(),
                },
            ),
            Reply::WriteAck {
                applied,
                error,
                moved,
            } => frame(
                k,
                &proto::PbdTableWriteAck {
                    applied: Some(*applied),
                    error: error.clone(),
                    moved: moved.as_ref().map(vnode_to_proto),
                },
            ),
            Reply::ReadResp {
                items,
                moved,
                authoritative,
            } => frame(
                k,
                &proto::PbdTableReadResp {
                    items: items
                        .iter()
                        .map(|item| proto::PbdTableReadItem {
                            key: Some(item.key.clone()),
                            value: item.record.as_ref().and_then(|r| r.value.clone()),
                            version: item.record.as_ref().map(|r| version_to_proto(&r.version)),
                            expires: item.record.as_ref().and_then(|r| r.expires),
                        })
                        .collect(),
                    moved: moved.as_ref().map(vnode_to_proto),
                    authoritative: authoritative.then_some(true),
                },
            ),
            Reply::DigestResp {
                buckets,
                incarnation,
            } => frame(
                k,
                &proto::PbdTableDigestResp {
                    buckets: buckets.clone(),
                    incarnation: Some(*incarnation),
                },
            ),
            Reply::ScanResp { items, more } => frame(
                k,
                &proto::PbdTableScanResp {
                    items: items_to_proto(items),
                    more: Some(*more),
                },
            ),
            Reply::ProbeResp {
                incarnation,
                client_address,
            } => frame(
                k,
                &proto::PbdTableProbeResp {
                    incarnation: Some(*incarnation),
                    client_address: client_address.clone(),
                },
            ),
            Reply::ModifyResp(answer) => frame(k, &modify::reply_to_proto(answer)),
        }
    }

    /// Decodes one whole frame (type byte first).
    pub fn decode(frame: Bytes) -> Result<Reply, CodecError> {
        let (kind, payload) = split_frame(frame)?;
        Reply::decode_payload(kind, payload)
    }

    /// Decodes a payload whose type byte was already read.
    pub fn decode_payload(kind: u8, payload: Bytes) -> Result<Reply, CodecError> {
        let k = kind;
        Ok(match kind {
            kind::RESPONSE => {
                let m: proto::PbdTableResponse = decode_payload(k, payload, &[(1, "ok")])?;
                Reply::Response {
                    ok: m.ok,
                    error: m.error,
                }
            }
            kind::ITEM => Reply::Item(Box::new(decode_payload(k, payload, &[])?)),
            kind::MULTI_ITEM_RESPONSE => {
                let m: proto::PbdTableMultiItemResponse = decode_payload(k, payload, &[])?;
                Reply::MultiItemResponse {
                    origin: optional_vnode(k, m.origin)?,
                    items: m.items,
                }
            }
            kind::WRITE_ACK => {
                let m: proto::PbdTableWriteAck = decode_payload(k, payload, &[])?;
                Reply::WriteAck {
                    applied: m.applied.ok_or_else(|| missing(k, "applied"))?,
                    error: m.error,
                    moved: optional_vnode(k, m.moved)?,
                }
            }
            kind::READ_RESP => {
                let m: proto::PbdTableReadResp = decode_payload(k, payload, &[])?;
                let items = m
                    .items
                    .into_iter()
                    .map(|item| {
                        let key = item.key.ok_or_else(|| missing(k, "items.key"))?;
                        let record = match item.version {
                            None if item.value.is_some() => {
                                return Err(invalid(k, "item (a value without a version)"))
                            }
                            None => None,
                            Some(v) => Some(Record::with_deadline(
                                version_from_proto(k, v)?,
                                item.value,
                                item.expires,
                            )),
                        };
                        Ok(ReadItem { key, record })
                    })
                    .collect::<Result<_, _>>()?;
                Reply::ReadResp {
                    items,
                    moved: optional_vnode(k, m.moved)?,
                    authoritative: m.authoritative.unwrap_or(false),
                }
            }
            kind::DIGEST_RESP => {
                let m: proto::PbdTableDigestResp = decode_payload(k, payload, &[])?;
                Reply::DigestResp {
                    buckets: m.buckets,
                    incarnation: m.incarnation.unwrap_or(0),
                }
            }
            kind::SCAN_RESP => {
                let m: proto::PbdTableScanResp = decode_payload(k, payload, &[])?;
                Reply::ScanResp {
                    items: items_from_proto(k, m.items)?,
                    more: m.more.ok_or_else(|| missing(k, "more"))?,
                }
            }
            kind::MODIFY_RESP => {
                let m: proto::PbdTableModifyResp = decode_payload(k, payload, &[])?;
                Reply::ModifyResp(modify::reply_from_proto(k, m)?)
            }
            kind::PROBE_RESP => {
                let m: proto::PbdTableProbeResp = decode_payload(k, payload, &[])?;
                Reply::ProbeResp {
                    incarnation: m.incarnation.ok_or_else(|| missing(k, "incarnation"))?,
                    client_address: m.client_address.filter(|address| !address.is_empty()),
                }
            }
            other => return Err(CodecError::UnknownType(other)),
        })
    }
}

fn split_frame(frame: Bytes) -> Result<(u8, Bytes), CodecError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge {
            len: frame.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let Some(&kind) = frame.first() else {
        return Err(CodecError::Empty);
    };
    Ok((kind, frame.slice(1..)))
}

fn missing(kind: u8, field: &'static str) -> CodecError {
    CodecError::MissingField { kind, field }
}

fn invalid(kind: u8, what: &'static str) -> CodecError {
    CodecError::Invalid { kind, what }
}

fn id_bytes(id: &Id) -> Bytes {
    Bytes::copy_from_slice(id.as_bytes())
}

fn id_from_bytes(kind: u8, bytes: &[u8], what: &'static str) -> Result<Id, CodecError> {
    Id::from_slice(bytes).map_err(|_| invalid(kind, what))
}

fn required_vnode(
    kind: u8,
    vnode: Option<dendrite::proto::PbProtoVnode>,
) -> Result<Vnode, CodecError> {
    vnode_from_proto(kind, vnode.ok_or_else(|| missing(kind, "dest"))?)
}

fn optional_vnode(
    kind: u8,
    vnode: Option<dendrite::proto::PbProtoVnode>,
) -> Result<Option<Vnode>, CodecError> {
    vnode.map(|v| vnode_from_proto(kind, v)).transpose()
}

fn range_from_proto(
    kind: u8,
    from: Option<Bytes>,
    to: Option<Bytes>,
) -> Result<IdRange, CodecError> {
    let from = from.ok_or_else(|| missing(kind, "from"))?;
    let to = to.ok_or_else(|| missing(kind, "to"))?;
    Ok(IdRange::new(
        id_from_bytes(kind, &from, "from (must be a 20-byte id)")?,
        id_from_bytes(kind, &to, "to (must be a 20-byte id)")?,
    ))
}

fn version_to_proto(version: &Version) -> proto::PbdTableVersion {
    proto::PbdTableVersion {
        millis: Some(version.millis),
        logical: Some(version.logical),
        node: Some(version.node),
    }
}

fn version_from_proto(kind: u8, version: proto::PbdTableVersion) -> Result<Version, CodecError> {
    Ok(Version {
        millis: version
            .millis
            .ok_or_else(|| missing(kind, "version.millis"))?,
        logical: version
            .logical
            .ok_or_else(|| missing(kind, "version.logical"))?,
        node: version.node.ok_or_else(|| missing(kind, "version.node"))?,
    })
}

fn items_to_proto(items: &[(Bytes, Record)]) -> Vec<proto::PbdTableVersionedItem> {
    items
        .iter()
        .map(|(key, record)| proto::PbdTableVersionedItem {
            key: Some(key.clone()),
            value: record.value.clone(),
            version: Some(version_to_proto(&record.version)),
            expires: record.expires,
        })
        .collect()
}

fn items_from_proto(
    kind: u8,
    items: Vec<proto::PbdTableVersionedItem>,
) -> Result<Vec<(Bytes, Record)>, CodecError> {
    items
        .into_iter()
        .map(|item| {
            let key = item.key.ok_or_else(|| missing(kind, "items.key"))?;
            let version = item.version.ok_or_else(|| missing(kind, "items.version"))?;
            Ok((
                key,
                Record::with_deadline(version_from_proto(kind, version)?, item.value, item.expires),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
