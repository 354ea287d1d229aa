//! The protobuf form of [`Request::Modify`](super::Request::Modify) and
//! [`Reply::ModifyResp`](super::Reply::ModifyResp) (docs/design.md, "Read-modify-write").

use bytes::Bytes;
use dendrite::message::vnode_to_proto;
use dendrite::{CodecError, Vnode};

use super::fields::{invalid, missing, optional_vnode, required_vnode};
use super::ModifyAnswer;
use crate::modify::{
    BitOperation, ExpireCondition, Expiry, Modified, Modify, ModifyError, ModifyMany, SetCondition,
};
use crate::proto;

const INCR_BY: u32 = 1;
const APPEND: u32 = 2;
const SET: u32 = 3;
const GET_DEL: u32 = 4;
const SET_RANGE: u32 = 5;
const SET_BIT: u32 = 6;
const EXPIRE: u32 = 7;
const PERSIST: u32 = 8;
const GET_EX: u32 = 9;
const INCR_BY_FLOAT: u32 = 10;

/// `expiry` and `expires` of an [`Expiry`].
fn expiry_to_proto(expiry: &Expiry) -> (u32, Option<u64>) {
    match expiry {
        Expiry::Clear => (0, None),
        Expiry::Keep => (1, None),
        Expiry::At(at) => (2, Some(*at)),
    }
}

fn expiry_from_proto(
    k: u8,
    expiry: Option<u32>,
    expires: Option<u64>,
) -> Result<Expiry, CodecError> {
    Ok(match expiry {
        None => return Err(missing(k, "expiry")),
        Some(0) => Expiry::Clear,
        Some(1) => Expiry::Keep,
        Some(2) => Expiry::At(expires.ok_or_else(|| missing(k, "expires"))?),
        Some(_) => return Err(invalid(k, "expiry (0, 1 or 2)")),
    })
}

pub(super) fn request_to_proto(
    dest: &Vnode,
    key: &Bytes,
    op: &Modify,
    min_acks: u32,
) -> proto::PbdTableModify {
    let mut m = proto::PbdTableModify {
        dest: Some(vnode_to_proto(dest)),
        key: Some(key.clone()),
        min_acks: Some(min_acks),
        ..Default::default()
    };
    match op {
        Modify::IncrBy(delta) => {
            m.op = Some(INCR_BY);
            m.delta = Some(*delta);
        }
        Modify::Append(tail) => {
            m.op = Some(APPEND);
            m.value = Some(tail.clone());
        }
        Modify::IncrByFloat(increment) => {
            m.op = Some(INCR_BY_FLOAT);
            m.value = Some(increment.clone());
        }
        Modify::Set {
            value,
            when,
            get,
            expiry,
        } => {
            m.op = Some(SET);
            m.value = Some(value.clone());
            m.when = Some(match when {
                SetCondition::Always => 0,
                SetCondition::IfAbsent => 1,
                SetCondition::IfPresent => 2,
            });
            m.get = Some(*get);
            // Absent means "clear", what a peer from before expiry means by a set.
            if *expiry != Expiry::Clear {
                let (kind, at) = expiry_to_proto(expiry);
                m.expiry = Some(kind);
                m.expires = at;
            }
        }
        Modify::Expire { at, when } => {
            m.op = Some(EXPIRE);
            m.expires = Some(*at);
            m.when = Some(match when {
                ExpireCondition::Always => 0,
                ExpireCondition::IfNone => 1,
                ExpireCondition::IfSome => 2,
                ExpireCondition::IfLater => 3,
                ExpireCondition::IfEarlier => 4,
                ExpireCondition::IfSomeAndEarlier => 5,
            });
        }
        Modify::Persist => m.op = Some(PERSIST),
        Modify::GetEx(expiry) => {
            m.op = Some(GET_EX);
            let (kind, at) = expiry_to_proto(expiry);
            m.expiry = Some(kind);
            m.expires = at;
        }
        Modify::GetDel => m.op = Some(GET_DEL),
        Modify::SetRange { offset, value } => {
            m.op = Some(SET_RANGE);
            m.offset = Some(*offset);
            m.value = Some(value.clone());
        }
        Modify::SetBit { offset, bit } => {
            m.op = Some(SET_BIT);
            m.offset = Some(*offset);
            m.get = Some(*bit);
        }
    }
    m
}

/// `(dest, key, op, min_acks)` of a decoded `Modify`.
pub(super) fn request_from_proto(
    k: u8,
    m: proto::PbdTableModify,
) -> Result<(Vnode, Bytes, Modify, u32), CodecError> {
    let dest = required_vnode(k, m.dest)?;
    let key = m.key.ok_or_else(|| missing(k, "key"))?;
    let value = || m.value.clone().ok_or_else(|| missing(k, "value"));
    let op = match m.op.ok_or_else(|| missing(k, "op"))? {
        INCR_BY => Modify::IncrBy(m.delta.ok_or_else(|| missing(k, "delta"))?),
        APPEND => Modify::Append(value()?),
        INCR_BY_FLOAT => Modify::IncrByFloat(value()?),
        SET => Modify::Set {
            value: value()?,
            when: match m.when.unwrap_or(0) {
                0 => SetCondition::Always,
                1 => SetCondition::IfAbsent,
                2 => SetCondition::IfPresent,
                _ => return Err(invalid(k, "when (0, 1 or 2)")),
            },
            get: m.get.unwrap_or(false),
            expiry: match m.expiry {
                None => Expiry::Clear,
                Some(_) => expiry_from_proto(k, m.expiry, m.expires)?,
            },
        },
        EXPIRE => Modify::Expire {
            at: m.expires.ok_or_else(|| missing(k, "expires"))?,
            when: match m.when.unwrap_or(0) {
                0 => ExpireCondition::Always,
                1 => ExpireCondition::IfNone,
                2 => ExpireCondition::IfSome,
                3 => ExpireCondition::IfLater,
                4 => ExpireCondition::IfEarlier,
                5 => ExpireCondition::IfSomeAndEarlier,
                _ => return Err(invalid(k, "when (0 to 5)")),
            },
        },
        PERSIST => Modify::Persist,
        GET_EX => Modify::GetEx(expiry_from_proto(k, m.expiry, m.expires)?),
        GET_DEL => Modify::GetDel,
        SET_RANGE => Modify::SetRange {
            offset: m.offset.ok_or_else(|| missing(k, "offset"))?,
            value: value()?,
        },
        SET_BIT => Modify::SetBit {
            offset: m.offset.ok_or_else(|| missing(k, "offset"))?,
            bit: m.get.ok_or_else(|| missing(k, "get (the bit)"))?,
        },
        _ => return Err(invalid(k, "op (1 to 10)")),
    };
    let min_acks = m.min_acks.ok_or_else(|| missing(k, "minAcks"))?;
    Ok((dest, key, op, min_acks.max(1)))
}

pub(super) fn reply_to_proto(answer: &ModifyAnswer) -> proto::PbdTableModifyResp {
    let mut m = proto::PbdTableModifyResp::default();
    match answer {
        ModifyAnswer::Done(Modified::Integer(n)) => {
            m.kind = Some(1);
            m.integer = Some(*n);
        }
        ModifyAnswer::Done(Modified::Length(n)) => {
            m.kind = Some(2);
            m.length = Some(*n);
        }
        ModifyAnswer::Done(Modified::Set { stored, old }) => {
            m.kind = Some(3);
            m.stored = Some(*stored);
            m.old = old.clone();
        }
        ModifyAnswer::Done(Modified::Old(old)) => {
            m.kind = Some(4);
            m.old = old.clone();
        }
        ModifyAnswer::Refused(e) => {
            m.refused = Some(match e {
                ModifyError::NotAnInteger => 1,
                ModifyError::Overflow => 2,
                ModifyError::TooLarge => 3,
                ModifyError::NoSuchKey => 4,
                ModifyError::WrongKeys => 5,
                ModifyError::NotAFloat => 6,
                ModifyError::NotFinite => 7,
            })
        }
        ModifyAnswer::Failed(reason) => m.error = Some(reason.clone()),
        ModifyAnswer::Moved(owner) => m.moved = Some(vnode_to_proto(owner)),
    }
    m
}

pub(super) fn reply_from_proto(
    k: u8,
    m: proto::PbdTableModifyResp,
) -> Result<ModifyAnswer, CodecError> {
    if let Some(owner) = optional_vnode(k, m.moved)? {
        return Ok(ModifyAnswer::Moved(owner));
    }
    if let Some(reason) = m.error {
        return Ok(ModifyAnswer::Failed(reason));
    }
    if let Some(code) = m.refused {
        return Ok(ModifyAnswer::Refused(match code {
            1 => ModifyError::NotAnInteger,
            2 => ModifyError::Overflow,
            3 => ModifyError::TooLarge,
            4 => ModifyError::NoSuchKey,
            5 => ModifyError::WrongKeys,
            6 => ModifyError::NotAFloat,
            7 => ModifyError::NotFinite,
            _ => return Err(invalid(k, "refused (1 to 7)")),
        }));
    }
    Ok(ModifyAnswer::Done(
        match m.kind.ok_or_else(|| missing(k, "kind"))? {
            1 => Modified::Integer(m.integer.ok_or_else(|| missing(k, "integer"))?),
            2 => Modified::Length(m.length.ok_or_else(|| missing(k, "length"))?),
            3 => Modified::Set {
                stored: m.stored.ok_or_else(|| missing(k, "stored"))?,
                old: m.old,
            },
            4 => Modified::Old(m.old),
            _ => return Err(invalid(k, "kind (1 to 4)")),
        },
    ))
}

const SET_ALL_IF_NONE: u32 = 1;
const RENAME: u32 = 2;
const COPY: u32 = 3;
const BIT_OP: u32 = 4;

/// The protobuf form of [`Request::ModifyMany`](super::Request::ModifyMany).
pub(super) fn many_to_proto(
    dest: &Vnode,
    keys: &[Bytes],
    op: &ModifyMany,
    min_acks: u32,
) -> proto::PbdTableModifyMany {
    let mut m = proto::PbdTableModifyMany {
        dest: Some(vnode_to_proto(dest)),
        keys: keys.to_vec(),
        min_acks: Some(min_acks),
        ..Default::default()
    };
    match op {
        ModifyMany::SetAllIfNone(values) => {
            m.op = Some(SET_ALL_IF_NONE);
            m.values = values.clone();
        }
        ModifyMany::Rename { if_absent } => {
            m.op = Some(RENAME);
            m.flag = Some(*if_absent);
        }
        ModifyMany::Copy { replace } => {
            m.op = Some(COPY);
            m.flag = Some(*replace);
        }
        ModifyMany::BitOp(operation) => {
            m.op = Some(BIT_OP);
            m.bit_op = Some(match operation {
                BitOperation::And => 1,
                BitOperation::Or => 2,
                BitOperation::Xor => 3,
                BitOperation::Not => 4,
            });
        }
    }
    m
}

/// `(dest, keys, op, min_acks)` of a decoded `ModifyMany`.
pub(super) fn many_from_proto(
    k: u8,
    m: proto::PbdTableModifyMany,
) -> Result<(Vnode, Vec<Bytes>, ModifyMany, u32), CodecError> {
    let dest = required_vnode(k, m.dest)?;
    if m.keys.is_empty() {
        return Err(missing(k, "keys"));
    }
    let flag = || m.flag.ok_or_else(|| missing(k, "flag"));
    let op = match m.op.ok_or_else(|| missing(k, "op"))? {
        SET_ALL_IF_NONE => ModifyMany::SetAllIfNone(m.values.clone()),
        RENAME => ModifyMany::Rename { if_absent: flag()? },
        COPY => ModifyMany::Copy { replace: flag()? },
        BIT_OP => ModifyMany::BitOp(match m.bit_op.ok_or_else(|| missing(k, "bitOp"))? {
            1 => BitOperation::And,
            2 => BitOperation::Or,
            3 => BitOperation::Xor,
            4 => BitOperation::Not,
            _ => return Err(invalid(k, "bitOp (1 to 4)")),
        }),
        _ => return Err(invalid(k, "op (1 to 4)")),
    };
    let min_acks = m.min_acks.ok_or_else(|| missing(k, "minAcks"))?;
    Ok((dest, m.keys, op, min_acks.max(1)))
}
