//! Encoding and decoding of [`Request`]s: the Go original's messages (docs/wire.md §5) and the
//! versioned ones (§6).

use bytes::Bytes;
use dendrite::message::{decode_payload, frame, vnode_from_proto, vnode_to_proto};
use dendrite::{CodecError, Vnode};

use super::fields::*;
use super::{kind, modify, Request, WriteRole};
use crate::proto;
use crate::range::MAX_BUCKETS;

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
            Request::Write {
                dest,
                items,
                role,
                origin,
            } => {
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
                        origin: origin.as_ref().map(vnode_to_proto),
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
                    origin: optional_vnode(k, m.origin)?,
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
