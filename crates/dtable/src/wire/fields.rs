//! The field conversions every message shares: frames, ids, vnodes, ranges, versions, items,
//! and the errors for missing or invalid fields (docs/wire.md §3, §6.1).

use bytes::Bytes;
use dendrite::message::{vnode_from_proto, MAX_FRAME_LEN};
use dendrite::{CodecError, Id, Vnode};

use crate::proto;
use crate::range::IdRange;
use crate::record::Record;
use crate::version::Version;

pub(super) fn split_frame(frame: Bytes) -> Result<(u8, Bytes), CodecError> {
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

pub(super) fn missing(kind: u8, field: &'static str) -> CodecError {
    CodecError::MissingField { kind, field }
}

pub(super) fn invalid(kind: u8, what: &'static str) -> CodecError {
    CodecError::Invalid { kind, what }
}

pub(super) fn id_bytes(id: &Id) -> Bytes {
    Bytes::copy_from_slice(id.as_bytes())
}

pub(super) fn id_from_bytes(kind: u8, bytes: &[u8], what: &'static str) -> Result<Id, CodecError> {
    Id::from_slice(bytes).map_err(|_| invalid(kind, what))
}

pub(super) fn required_vnode(
    kind: u8,
    vnode: Option<dendrite::proto::PbProtoVnode>,
) -> Result<Vnode, CodecError> {
    vnode_from_proto(kind, vnode.ok_or_else(|| missing(kind, "dest"))?)
}

pub(super) fn optional_vnode(
    kind: u8,
    vnode: Option<dendrite::proto::PbProtoVnode>,
) -> Result<Option<Vnode>, CodecError> {
    vnode.map(|v| vnode_from_proto(kind, v)).transpose()
}

pub(super) fn range_from_proto(
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

pub(super) fn version_to_proto(version: &Version) -> proto::PbdTableVersion {
    proto::PbdTableVersion {
        millis: Some(version.millis),
        logical: Some(version.logical),
        node: Some(version.node),
    }
}

pub(super) fn version_from_proto(
    kind: u8,
    version: proto::PbdTableVersion,
) -> Result<Version, CodecError> {
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

pub(super) fn items_to_proto(items: &[(Bytes, Record)]) -> Vec<proto::PbdTableVersionedItem> {
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

pub(super) fn items_from_proto(
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
