//! The packed encoding of records within a chunk: for each record, in (position, key) order,
//!
//! `body length (LEB128) | position (20 bytes) | key length * 4 + deadline flag * 2 +
//! tombstone flag (LEB128) | millis (LEB128) | logical (4 bytes, big-endian) | node (8 bytes,
//! big-endian) | [deadline (LEB128), when flagged] | key | value`.
//!
//! The logical counter has a fixed width although it is usually small: under load it runs
//! into the hundreds within one millisecond, and as a varint it would change a record's length
//! from one overwrite to the next, each time moving the rest of the chunk (3 % of a node's
//! time under pipelined SETs of same-sized values). With every field but the value stable, an
//! overwrite of a same-sized value is rewritten in place.
//!
//! The body length (every byte after itself) comes first so a walk steps from record to record
//! with one varint read, and the position right after it so a lookup (see [`super::chunk`],
//! whose index says where each record starts) decides with one 8-byte big-endian load:
//! positions are hashes, so their first 8 bytes almost always differ, and only on equality are
//! the other 12 bytes and the key compared. The value's length is what the body leaves after
//! the key, so it costs no byte of its own; the tombstone flag rides in the key length's low
//! bit (a tombstone and an empty value differ), and the deadline flag in the next one, so a key
//! that never expires pays nothing for expiry.
//!
//! Only this module writes chunks, so decoding trusts its input: a malformed chunk is a bug in
//! this file, not bad input from the network.

use std::cmp::Ordering;

use bytes::Bytes;
use dendrite::Id;

use crate::record::{HeldRecord, Record};
use crate::version::Version;

/// Bytes of a record's position in its packed form.
const ID_LEN: usize = 20;

/// Bytes of the position compared as one big-endian integer before the rest.
const PREFIX_LEN: usize = 8;

/// Bytes of the version's node id.
const NODE_LEN: usize = 8;

/// Bytes of the version's logical counter.
const LOGICAL_LEN: usize = 4;

/// One record decoded in place, borrowing its key and value from the chunk.
pub(super) struct Entry<'a> {
    /// Offset of the record's first byte in the chunk.
    pub start: usize,
    /// Offset just past the record's last byte.
    pub end: usize,
    pub id: Id,
    pub version: Version,
    pub key: &'a [u8],
    /// `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// The value's deadline (Unix ms), if it expires.
    pub expires: Option<u64>,
}

impl<'a> Entry<'a> {
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// The record, borrowed from the chunk.
    pub fn held(&self) -> HeldRecord<'a> {
        HeldRecord {
            version: self.version,
            value: self.value,
            expires: self.expires,
        }
    }

    /// The record as the rest of the crate sees it (the value copied out).
    pub fn to_record(&self) -> Record {
        self.held().to_record()
    }
}

/// `Record::wins_over` against a packed record, without copying the held value out.
pub fn wins_over(record: &Record, held: &Entry<'_>) -> bool {
    match record.version.cmp(&held.version) {
        Ordering::Greater => true,
        Ordering::Less => false,
        // `Option<Bytes>` and `Option<&[u8]>` order alike: `None` first, then bytewise.
        Ordering::Equal => (record.value.as_deref(), record.expires) > (held.value, held.expires),
    }
}

fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn get_varint(chunk: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let byte = chunk[*at];
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// [`get_varint`] for a length, with the one- and two-byte cases (every record under 16 KiB)
/// inlined into the walk.
#[inline(always)]
fn get_len(chunk: &[u8], at: &mut usize) -> usize {
    let first = chunk[*at];
    if first < 0x80 {
        *at += 1;
        return usize::from(first);
    }
    let second = chunk[*at + 1];
    if second < 0x80 {
        *at += 2;
        return usize::from(first & 0x7f) | usize::from(second) << 7;
    }
    get_varint(chunk, at) as usize
}

/// The key length and the two flags as one varint: `key length * 4`, plus 2 when a deadline
/// follows the version, plus 1 for a tombstone.
fn key_tag(key: &[u8], record: &Record) -> u64 {
    ((key.len() as u64) << 2)
        | (u64::from(record.expires.is_some()) << 1)
        | u64::from(record.is_tombstone())
}

/// Bytes of a record's body: everything after its leading length.
fn body_len(key: &[u8], record: &Record) -> usize {
    let version = &record.version;
    ID_LEN
        + varint_len(key_tag(key, record))
        + varint_len(version.millis)
        + LOGICAL_LEN
        + NODE_LEN
        + record.expires.map_or(0, varint_len)
        + key.len()
        + record.value.as_ref().map_or(0, Bytes::len)
}

/// Bytes the packed form of this record takes ([`encode_into`] fills exactly this many).
pub fn encoded_len(key: &[u8], record: &Record) -> usize {
    let body = body_len(key, record);
    varint_len(body as u64) + body
}

/// Appends the packed form of one record to `out`.
#[cfg(test)]
pub fn encode(out: &mut Vec<u8>, id: &Id, key: &[u8], record: &Record) {
    let start = out.len();
    out.resize(start + encoded_len(key, record), 0);
    encode_into(&mut out[start..], id, key, record);
}

/// Writes the packed form of one record over `out`, which must be exactly [`encoded_len`]
/// bytes long: a write fills its slot in the chunk directly, with no copy through a scratch
/// buffer and no capacity check per byte.
pub fn encode_into(out: &mut [u8], id: &Id, key: &[u8], record: &Record) {
    debug_assert_eq!(out.len(), encoded_len(key, record));
    let mut cursor = Cursor { out, at: 0 };
    cursor.varint(body_len(key, record) as u64);
    cursor.bytes(id.as_bytes());
    cursor.varint(key_tag(key, record));
    cursor.varint(record.version.millis);
    cursor.bytes(&record.version.logical.to_be_bytes());
    cursor.bytes(&record.version.node.to_be_bytes());
    if let Some(deadline) = record.expires {
        cursor.varint(deadline);
    }
    cursor.bytes(key);
    if let Some(value) = &record.value {
        cursor.bytes(value);
    }
}

/// Where [`encode_into`] writes next in the slot it fills.
struct Cursor<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.out[self.at] = (n as u8) | 0x80;
            self.at += 1;
            n >>= 7;
        }
        self.out[self.at] = n as u8;
        self.at += 1;
    }
}

/// The first 8 bytes of a position as a big-endian integer: orders like the bytes do.
#[inline(always)]
fn prefix_of(bytes: &[u8]) -> u64 {
    let mut prefix = [0u8; PREFIX_LEN];
    prefix.copy_from_slice(&bytes[..PREFIX_LEN]);
    u64::from_be_bytes(prefix)
}

/// Bytes 8..20 of a position as big-endian integers: what decides between two positions
/// sharing their prefix (every hit compares it), as two integer compares instead of a `memcmp`.
#[inline(always)]
fn rest_of(bytes: &[u8]) -> (u64, u32) {
    let mut middle = [0u8; 8];
    let mut low = [0u8; ID_LEN - PREFIX_LEN - 8];
    middle.copy_from_slice(&bytes[PREFIX_LEN..PREFIX_LEN + 8]);
    low.copy_from_slice(&bytes[PREFIX_LEN + 8..ID_LEN]);
    (u64::from_be_bytes(middle), u32::from_be_bytes(low))
}

/// The first 8 bytes of `id` as a big-endian integer: the key of the chunk map, and what a
/// lookup compares first.
pub fn prefix(id: &Id) -> u64 {
    prefix_of(id.as_bytes())
}

/// Decodes the record starting at `start`.
pub fn decode(chunk: &[u8], start: usize) -> Entry<'_> {
    let mut at = start;
    let body = get_len(chunk, &mut at);
    let end = at + body;
    let mut id = [0u8; ID_LEN];
    id.copy_from_slice(&chunk[at..at + ID_LEN]);
    at += ID_LEN;
    let tag = get_varint(chunk, &mut at);
    let millis = get_varint(chunk, &mut at);
    let mut logical = [0u8; LOGICAL_LEN];
    logical.copy_from_slice(&chunk[at..at + LOGICAL_LEN]);
    at += LOGICAL_LEN;
    let mut node = [0u8; NODE_LEN];
    node.copy_from_slice(&chunk[at..at + NODE_LEN]);
    at += NODE_LEN;
    let expires = (tag & 2 != 0).then(|| get_varint(chunk, &mut at));
    let key_end = at + (tag >> 2) as usize;
    let key = &chunk[at..key_end];
    let value = (tag & 1 == 0).then(|| &chunk[key_end..end]);
    Entry {
        start,
        end,
        id: Id::new(id),
        version: Version {
            millis,
            logical: u32::from_be_bytes(logical),
            node: u64::from_be_bytes(node),
        },
        key,
        value,
        expires,
    }
}

/// The records of a chunk, in order.
pub fn entries(chunk: &[u8]) -> impl Iterator<Item = Entry<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= chunk.len() {
            return None;
        }
        let entry = decode(chunk, at);
        at = entry.end;
        Some(entry)
    })
}

/// The key of the record whose position starts at `position`, skipping its version.
fn key_at(chunk: &[u8], position: usize) -> &[u8] {
    let mut at = position + ID_LEN;
    let tag = get_varint(chunk, &mut at);
    let key_len = (tag >> 2) as usize;
    get_varint(chunk, &mut at); // millis
    at += LOGICAL_LEN + NODE_LEN;
    if tag & 2 != 0 {
        get_varint(chunk, &mut at); // deadline
    }
    &chunk[at..at + key_len]
}

/// The 8-byte prefix of the position of the record starting at `start`.
pub fn prefix_at(chunk: &[u8], start: usize) -> u64 {
    let mut position = start;
    get_len(chunk, &mut position);
    prefix_of(&chunk[position..])
}

/// How the record starting at `start` orders against (`id`, `key`): by position bytes, then
/// key bytes. The first 8 bytes of the position are compared as one integer, the other 12 and
/// the key only when those are equal.
#[inline]
pub fn compare_at(chunk: &[u8], start: usize, id: &Id, key: &[u8]) -> Ordering {
    let target = id.as_bytes();
    let mut position = start;
    get_len(chunk, &mut position);
    match prefix_of(&chunk[position..]).cmp(&prefix_of(target)) {
        Ordering::Equal => rest_of(&chunk[position..])
            .cmp(&rest_of(target))
            .then_with(|| key_at(chunk, position).cmp(key)),
        unequal => unequal,
    }
}

/// Makes `chunk[start..end]` `len` bytes long in place, moving the tail only when the lengths
/// differ (no temporary vector, unlike `Vec::splice`), and returns the resized range for the
/// caller to fill: its bytes are whatever lay there before.
pub fn resize_range(chunk: &mut Vec<u8>, start: usize, end: usize, len: usize) -> &mut [u8] {
    let old_len = end - start;
    let tail = chunk.len() - end;
    if len > old_len {
        let grow = len - old_len;
        chunk.resize(chunk.len() + grow, 0);
        chunk.copy_within(end..end + tail, end + grow);
    } else if len < old_len {
        let shrink = old_len - len;
        chunk.copy_within(end..end + tail, end - shrink);
        chunk.truncate(chunk.len() - shrink);
    }
    &mut chunk[start..start + len]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::resize_range;

    proptest! {
        /// Resizing a range in place and filling it leaves exactly what `Vec::splice` would,
        /// growing or shrinking.
        #[test]
        fn resize_range_matches_splice(
            chunk in proptest::collection::vec(any::<u8>(), 0..300),
            a in 0usize..300,
            b in 0usize..300,
            encoded in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let (start, end) = (a.min(b).min(chunk.len()), a.max(b).min(chunk.len()));
            let mut expected = chunk.clone();
            expected.splice(start..end, encoded.iter().copied());
            let mut replaced = chunk;
            resize_range(&mut replaced, start, end, encoded.len()).copy_from_slice(&encoded);
            prop_assert_eq!(replaced, expected);
        }
    }
}
