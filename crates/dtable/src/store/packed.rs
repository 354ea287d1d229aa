//! The packed encoding of records within a chunk: for each record, in (position, key) order,
//!
//! `position (20 bytes) | millis (LEB128) | logical (LEB128) | node (8 bytes, big-endian) |
//! key length (LEB128) | value length + 1, or 0 for a tombstone (LEB128) | key | value`.
//!
//! Only this module writes chunks, so decoding trusts its input: a malformed chunk is a bug in
//! this file, not bad input from the network.

use std::cmp::Ordering;

use bytes::Bytes;
use dendrite::Id;

use crate::record::Record;
use crate::version::Version;

/// Bytes of a record's position at the start of its packed form.
const ID_LEN: usize = 20;

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
}

impl Entry<'_> {
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// The record as the rest of the crate sees it (the value copied out).
    pub fn to_record(&self) -> Record {
        Record {
            version: self.version,
            value: self.value.map(Bytes::copy_from_slice),
        }
    }
}

/// `Record::wins_over` against a packed record, without copying the held value out.
pub fn wins_over(record: &Record, held_version: Version, held_value: Option<&[u8]>) -> bool {
    match record.version.cmp(&held_version) {
        Ordering::Greater => true,
        Ordering::Less => false,
        // `Option<Bytes>` and `Option<&[u8]>` order alike: `None` first, then bytewise.
        Ordering::Equal => record.value.as_deref() > held_value,
    }
}

#[cfg(test)]
fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn skip_varint(chunk: &[u8], at: &mut usize) {
    while chunk[*at] >= 0x80 {
        *at += 1;
    }
    *at += 1;
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

fn value_tag(record: &Record) -> u64 {
    record.value.as_ref().map_or(0, |v| v.len() as u64 + 1)
}

/// Bytes [`encode`] appends for this record.
#[cfg(test)]
pub fn encoded_len(key: &[u8], record: &Record) -> usize {
    let version = &record.version;
    Id::ZERO.as_bytes().len()
        + varint_len(version.millis)
        + varint_len(u64::from(version.logical))
        + 8
        + varint_len(key.len() as u64)
        + varint_len(value_tag(record))
        + key.len()
        + record.value.as_ref().map_or(0, Bytes::len)
}

/// Appends the packed form of one record to `out`.
pub fn encode(out: &mut Vec<u8>, id: &Id, key: &[u8], record: &Record) {
    out.extend_from_slice(id.as_bytes());
    put_varint(out, record.version.millis);
    put_varint(out, u64::from(record.version.logical));
    out.extend_from_slice(&record.version.node.to_be_bytes());
    put_varint(out, key.len() as u64);
    put_varint(out, value_tag(record));
    out.extend_from_slice(key);
    if let Some(value) = &record.value {
        out.extend_from_slice(value);
    }
}

/// Decodes the record starting at `start`.
fn decode(chunk: &[u8], start: usize) -> Entry<'_> {
    let mut id = [0u8; ID_LEN];
    id.copy_from_slice(&chunk[start..start + ID_LEN]);
    let mut at = start + ID_LEN;
    let millis = get_varint(chunk, &mut at);
    let logical = u32::try_from(get_varint(chunk, &mut at)).unwrap_or(u32::MAX);
    let mut node = [0u8; 8];
    node.copy_from_slice(&chunk[at..at + 8]);
    at += 8;
    let key_len = get_varint(chunk, &mut at) as usize;
    let tag = get_varint(chunk, &mut at) as usize;
    let key = &chunk[at..at + key_len];
    at += key_len;
    let value = tag.checked_sub(1).map(|len| &chunk[at..at + len]);
    let end = at + tag.saturating_sub(1);
    Entry {
        start,
        end,
        id: Id::new(id),
        version: Version {
            millis,
            logical,
            node: u64::from_be_bytes(node),
        },
        key,
        value,
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

/// The key of the record starting at `start` and the offset just past it, without decoding its
/// version: what a walk that is looking for one key needs from every record it passes.
fn key_and_end(chunk: &[u8], start: usize) -> (&[u8], usize) {
    let mut at = start + ID_LEN;
    skip_varint(chunk, &mut at); // millis
    skip_varint(chunk, &mut at); // logical
    at += 8; // node
    let key_len = get_varint(chunk, &mut at) as usize;
    let tag = get_varint(chunk, &mut at) as usize;
    let key = &chunk[at..at + key_len];
    (key, at + key_len + tag.saturating_sub(1))
}

/// The record for (`id`, `key`) and its offset, or the offset where it would be inserted.
///
/// Records are compared by their raw position bytes (the order of [`Id`]) and skipped without
/// decoding; only the match is decoded.
pub fn find<'a>(chunk: &'a [u8], id: &Id, key: &[u8]) -> Result<(usize, Entry<'a>), usize> {
    let target = id.as_bytes().as_slice();
    let mut at = 0;
    while at < chunk.len() {
        let (held_key, end) = key_and_end(chunk, at);
        match chunk[at..at + ID_LEN]
            .cmp(target)
            .then_with(|| held_key.cmp(key))
        {
            Ordering::Less => at = end,
            Ordering::Equal => return Ok((at, decode(chunk, at))),
            Ordering::Greater => return Err(at),
        }
    }
    Err(chunk.len())
}

/// Replaces `chunk[start..end]` with `encoded` in place, moving the tail only when the lengths
/// differ (no temporary vector, unlike `Vec::splice`).
pub fn replace_range(chunk: &mut Vec<u8>, start: usize, end: usize, encoded: &[u8]) {
    let old_len = end - start;
    let tail = chunk.len() - end;
    if encoded.len() > old_len {
        let grow = encoded.len() - old_len;
        chunk.resize(chunk.len() + grow, 0);
        chunk.copy_within(end..end + tail, end + grow);
    } else if encoded.len() < old_len {
        let shrink = old_len - encoded.len();
        chunk.copy_within(end..end + tail, end - shrink);
        chunk.truncate(chunk.len() - shrink);
    }
    chunk[start..start + encoded.len()].copy_from_slice(encoded);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::replace_range;

    proptest! {
        /// In-place replacement leaves exactly what `Vec::splice` would, growing or shrinking.
        #[test]
        fn replace_range_matches_splice(
            chunk in proptest::collection::vec(any::<u8>(), 0..300),
            a in 0usize..300,
            b in 0usize..300,
            encoded in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let (start, end) = (a.min(b).min(chunk.len()), a.max(b).min(chunk.len()));
            let mut expected = chunk.clone();
            expected.splice(start..end, encoded.iter().copied());
            let mut replaced = chunk;
            replace_range(&mut replaced, start, end, &encoded);
            prop_assert_eq!(replaced, expected);
        }
    }
}
