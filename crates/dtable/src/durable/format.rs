//! The on-disk form of one record (docs/design.md, "Durability"), shared by log segments and
//! snapshots:
//!
//! ```text
//! frame = body length (u32 LE) | CRC-32C of (length bytes, body) (u32 LE) | body
//! body  = flags (u8: 1 tombstone, 2 deadline, 4 removal, 0x80 end of snapshot)
//!       | millis (u64 LE) | logical (u32 LE) | node (u64 LE)
//!       | [deadline, Unix ms (u64 LE), when flagged]
//!       | key length (u32 LE) | key | value (the rest of the body)
//! end   = flags 0x80 | record count (u64 LE)          (the last frame of a snapshot)
//! ```
//!
//! A removal (flag 4 alone, no value) says the store dropped the key's copy at that version (a
//! stray handed back to its owner, a write of a displaced primary): replayed, it drops the key
//! if the store holds exactly that version, so a restart does not bring the copy back. Only
//! log segments hold removals; a snapshot holds what the store held.
//!
//! Fixed-width fields: a record costs 33 bytes (41 with a deadline) beyond its key and value,
//! and decoding is a few loads. The checksum covers the length too, so a frame of zeros (what
//! a file system may leave past the last write after a power cut) never checks.

use bytes::Bytes;

use crate::record::Record;
use crate::version::Version;

/// Bytes before a frame's body: its length and its checksum.
pub const FRAME_HEADER: usize = 8;

/// Longest body accepted: a key (64 KiB at most) and a value (16 MiB at most) with room to
/// spare. A length above it is damage, not a record.
pub const MAX_BODY: usize = 64 << 20;

const TOMBSTONE: u8 = 1;
const DEADLINE: u8 = 2;
const REMOVAL: u8 = 4;
const END: u8 = 0x80;

/// Bytes of a body before the key: flags, millis, logical, node (and a deadline, when flagged).
const FIXED: usize = 1 + 8 + 4 + 8;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A record the store accepted.
    Record {
        /// The key.
        key: Bytes,
        /// Its record: version, value or tombstone, deadline.
        record: Record,
    },
    /// A copy the store dropped: `key` at exactly `version` (a newer version stays).
    Removal {
        /// The key.
        key: Bytes,
        /// The version dropped.
        version: Version,
    },
    /// The end of a snapshot, with the number of records before it.
    End {
        /// Records in the snapshot.
        count: u64,
    },
}

/// What [`decode`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole, checked frame, and the bytes it took.
    Frame(Frame, usize),
    /// The buffer ends inside a frame whose length is plausible: a write cut short.
    Incomplete,
    /// The bytes are not a frame (bad checksum, impossible length or body).
    Damaged(&'static str),
}

/// Appends `key`'s `record` as one frame to `out`.
pub fn encode(out: &mut Vec<u8>, key: &[u8], record: &Record) {
    let mut flags = 0;
    if record.value.is_none() {
        flags |= TOMBSTONE;
    }
    if record.expires.is_some() {
        flags |= DEADLINE;
    }
    let start = begin(out);
    put_head(out, flags, &record.version);
    if let Some(deadline) = record.expires {
        out.extend_from_slice(&deadline.to_le_bytes());
    }
    put_key(out, key);
    if let Some(value) = &record.value {
        out.extend_from_slice(value);
    }
    finish(out, start);
}

/// Appends the removal of `key`'s copy at `version` as one frame to `out`.
pub fn encode_removal(out: &mut Vec<u8>, key: &[u8], version: &Version) {
    let start = begin(out);
    put_head(out, REMOVAL, version);
    put_key(out, key);
    finish(out, start);
}

/// Appends `frame` to `out`: the inverse of [`decode`].
pub fn encode_frame(out: &mut Vec<u8>, frame: &Frame) {
    match frame {
        Frame::Record { key, record } => encode(out, key, record),
        Frame::Removal { key, version } => encode_removal(out, key, version),
        Frame::End { count } => encode_end(out, *count),
    }
}

fn put_head(out: &mut Vec<u8>, flags: u8, version: &Version) {
    out.push(flags);
    out.extend_from_slice(&version.millis.to_le_bytes());
    out.extend_from_slice(&version.logical.to_le_bytes());
    out.extend_from_slice(&version.node.to_le_bytes());
}

fn put_key(out: &mut Vec<u8>, key: &[u8]) {
    // Keys are at most 64 KiB (the table's `max_key_len`), far below `u32::MAX`.
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(key);
}

/// Appends the end frame of a snapshot holding `count` records.
pub fn encode_end(out: &mut Vec<u8>, count: u64) {
    let start = begin(out);
    out.push(END);
    out.extend_from_slice(&count.to_le_bytes());
    finish(out, start);
}

fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    start
}

fn finish(out: &mut [u8], start: usize) {
    let body_len = out.len() - start - FRAME_HEADER;
    let len = u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    let crc = checksum(&len, &out[start + FRAME_HEADER..]);
    out[start + 4..start + FRAME_HEADER].copy_from_slice(&crc.to_le_bytes());
}

fn checksum(len: &[u8], body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(len), body)
}

/// Decodes the frame at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    let Some((len_bytes, rest)) = buf.split_first_chunk::<4>() else {
        return Decoded::Incomplete;
    };
    let Some((crc_bytes, rest)) = rest.split_first_chunk::<4>() else {
        return Decoded::Incomplete;
    };
    let len = u32::from_le_bytes(*len_bytes) as usize;
    if len > MAX_BODY {
        return Decoded::Damaged("record length beyond the largest record");
    }
    let Some(body) = rest.get(..len) else {
        return Decoded::Incomplete;
    };
    if checksum(len_bytes, body) != u32::from_le_bytes(*crc_bytes) {
        return Decoded::Damaged("checksum mismatch");
    }
    match decode_body(body) {
        Some(frame) => Decoded::Frame(frame, FRAME_HEADER + len),
        None => Decoded::Damaged("checksum matches but the record is malformed"),
    }
}

fn decode_body(body: &[u8]) -> Option<Frame> {
    let (&flags, rest) = body.split_first()?;
    if flags == END {
        let count = u64::from_le_bytes(*rest.first_chunk::<8>()?);
        return (rest.len() == 8).then_some(Frame::End { count });
    }
    let removal = flags == REMOVAL;
    if (!removal && flags & !(TOMBSTONE | DEADLINE) != 0) || body.len() < FIXED + 4 {
        return None;
    }
    let (millis, rest) = rest.split_first_chunk::<8>()?;
    let (logical, rest) = rest.split_first_chunk::<4>()?;
    let (node, mut rest) = rest.split_first_chunk::<8>()?;
    let mut expires = None;
    if flags & DEADLINE != 0 {
        let (deadline, after) = rest.split_first_chunk::<8>()?;
        expires = Some(u64::from_le_bytes(*deadline));
        rest = after;
    }
    let (key_len, rest) = rest.split_first_chunk::<4>()?;
    let key_len = u32::from_le_bytes(*key_len) as usize;
    let key = rest.get(..key_len)?;
    let value = &rest[key_len..];
    let tombstone = flags & TOMBSTONE != 0;
    if tombstone && (!value.is_empty() || expires.is_some()) {
        return None;
    }
    let version = Version {
        millis: u64::from_le_bytes(*millis),
        logical: u32::from_le_bytes(*logical),
        node: u64::from_le_bytes(*node),
    };
    if removal {
        return value.is_empty().then(|| Frame::Removal {
            key: Bytes::copy_from_slice(key),
            version,
        });
    }
    Some(Frame::Record {
        key: Bytes::copy_from_slice(key),
        record: Record {
            version,
            value: (!tombstone).then(|| Bytes::copy_from_slice(value)),
            expires,
        },
    })
}

#[cfg(test)]
mod tests;
