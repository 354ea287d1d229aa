//! Encoding and decoding of [`Reply`]s (docs/wire.md §5, §6).

use bytes::Bytes;
use dendrite::message::{decode_payload, frame, vnode_to_proto};
use dendrite::CodecError;

use super::fields::*;
use super::{kind, modify, ReadItem, Reply};
use crate::proto;
use crate::record::Record;

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
                console_address,
            } => frame(
                k,
                &proto::PbdTableProbeResp {
                    incarnation: Some(*incarnation),
                    client_address: client_address.clone(),
                    console_address: console_address.clone(),
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
                    console_address: m.console_address.filter(|address| !address.is_empty()),
                }
            }
            other => return Err(CodecError::UnknownType(other)),
        })
    }
}
