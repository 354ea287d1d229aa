//! Read-modify-writes of several keys that live on one primary — Redis's MSETNX, RENAME,
//! RENAMENX, COPY and BITOP — applied there as one step, under every key's write lock. Keys on
//! different primaries are refused before anything is sent (Redis Cluster's CROSSSLOT): doing
//! such an operation piecewise would not be atomic.

use bytes::Bytes;

use super::{Change, Current, Modified, ModifyError};

/// What to do to several keys at once (their roles are by position in the key list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModifyMany {
    /// Key `i` gets value `i` if none of the keys holds a value (MSETNX); answers 1 if they
    /// were set, 0 if not. The values replace any deadline.
    SetAllIfNone(Vec<Bytes>),
    /// Move key 0's value and deadline to key 1 (RENAME; `if_absent`: RENAMENX, only if key 1
    /// holds nothing). Key 0 must hold a value. Answers 1 if moved, 0 if not.
    Rename {
        /// Only when the destination holds nothing (RENAMENX).
        if_absent: bool,
    },
    /// Copy key 0's value and deadline to key 1 (COPY); answers 1 if copied, 0 if not.
    Copy {
        /// Overwrite a destination that holds a value (REPLACE).
        replace: bool,
    },
    /// Key 0 becomes the bitwise operation over keys 1.. (BITOP); answers the result's length.
    /// Missing keys count as zero bytes, shorter values are padded with zeros; an empty result
    /// deletes key 0. The result has no deadline.
    BitOp(BitOperation),
}

/// The operations of BITOP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BitOperation {
    /// Bitwise AND.
    And,
    /// Bitwise OR.
    Or,
    /// Bitwise XOR.
    Xor,
    /// Bitwise NOT of the one source.
    Not,
}

impl ModifyMany {
    /// Applies the operation to `keys` holding `current` values (one per key, in order;
    /// `None`: absent, deleted or expired), for values of at most `max_len` bytes: the change
    /// to each key, in the same order, and the answer.
    pub fn apply(
        &self,
        keys: &[Bytes],
        current: &[Option<Current<'_>>],
        max_len: usize,
    ) -> Result<(Vec<Change>, Modified), ModifyError> {
        if keys.len() != current.len() {
            return Err(ModifyError::WrongKeys);
        }
        let mut changes = vec![Change::Keep; current.len()];
        let answer = match self {
            ModifyMany::SetAllIfNone(values) => {
                if values.len() != current.len() || values.is_empty() {
                    return Err(ModifyError::WrongKeys);
                }
                if values.iter().any(|v| v.len() > max_len) {
                    return Err(ModifyError::TooLarge);
                }
                if current.iter().any(Option::is_some) {
                    return Ok((changes, Modified::Integer(0)));
                }
                for (change, value) in changes.iter_mut().zip(values) {
                    *change = Change::Put {
                        value: value.clone(),
                        expires: None,
                    };
                }
                Modified::Integer(1)
            }
            ModifyMany::Rename { if_absent } => {
                let [source, destination] = pair(current)?;
                let Some(source) = source else {
                    return Err(ModifyError::NoSuchKey);
                };
                let same = keys[0] == keys[1];
                if same || (*if_absent && destination.is_some()) {
                    return Ok((changes, Modified::Integer(i64::from(!if_absent && same))));
                }
                changes[0] = Change::Delete;
                changes[1] = Change::Put {
                    value: Bytes::copy_from_slice(source.value),
                    expires: source.expires,
                };
                Modified::Integer(1)
            }
            ModifyMany::Copy { replace } => {
                let [source, destination] = pair(current)?;
                let Some(source) = source else {
                    return Ok((changes, Modified::Integer(0)));
                };
                if destination.is_some() && !replace {
                    return Ok((changes, Modified::Integer(0)));
                }
                changes[1] = Change::Put {
                    value: Bytes::copy_from_slice(source.value),
                    expires: source.expires,
                };
                Modified::Integer(1)
            }
            ModifyMany::BitOp(operation) => {
                let Some((_, sources)) = current.split_first() else {
                    return Err(ModifyError::WrongKeys);
                };
                if sources.is_empty() || (*operation == BitOperation::Not && sources.len() != 1) {
                    return Err(ModifyError::WrongKeys);
                }
                let result = bit_op(*operation, sources);
                let len = result.len();
                changes[0] = if result.is_empty() {
                    Change::Delete
                } else {
                    Change::Put {
                        value: Bytes::from(result),
                        expires: None,
                    }
                };
                Modified::Integer(i64::try_from(len).unwrap_or(i64::MAX))
            }
        };
        Ok((changes, answer))
    }
}

/// The two keys of RENAME and COPY.
fn pair<'c, 'a>(
    current: &'c [Option<Current<'a>>],
) -> Result<[&'c Option<Current<'a>>; 2], ModifyError> {
    match current {
        [first, second] => Ok([first, second]),
        _ => Err(ModifyError::WrongKeys),
    }
}

fn bit_op(operation: BitOperation, sources: &[Option<Current<'_>>]) -> Vec<u8> {
    let values: Vec<&[u8]> = sources
        .iter()
        .map(|s| s.map_or(&[][..], |c| c.value))
        .collect();
    let len = values.iter().map(|v| v.len()).max().unwrap_or(0);
    (0..len)
        .map(|i| {
            let byte = |v: &&[u8]| v.get(i).copied().unwrap_or(0);
            let mut bytes = values.iter().map(byte);
            let first = bytes.next().unwrap_or(0);
            match operation {
                BitOperation::And => bytes.fold(first, |acc, b| acc & b),
                BitOperation::Or => bytes.fold(first, |acc, b| acc | b),
                BitOperation::Xor => bytes.fold(first, |acc, b| acc ^ b),
                BitOperation::Not => !first,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&'static str]) -> Vec<Bytes> {
        names
            .iter()
            .map(|n| Bytes::from_static(n.as_bytes()))
            .collect()
    }

    fn live(value: &[u8]) -> Option<Current<'_>> {
        Some(Current::lasting(value))
    }

    fn put(value: &str, expires: Option<u64>) -> Change {
        Change::Put {
            value: Bytes::copy_from_slice(value.as_bytes()),
            expires,
        }
    }

    #[test]
    fn setnx_of_many_sets_all_or_nothing() {
        let op = ModifyMany::SetAllIfNone(keys(&["1", "2"]));
        assert_eq!(
            op.apply(&keys(&["a", "b"]), &[None, None], 10),
            Ok((vec![put("1", None), put("2", None)], Modified::Integer(1)))
        );
        assert_eq!(
            op.apply(&keys(&["a", "b"]), &[None, live(b"x")], 10),
            Ok((vec![Change::Keep, Change::Keep], Modified::Integer(0)))
        );
        assert_eq!(
            op.apply(&keys(&["a"]), &[None], 10),
            Err(ModifyError::WrongKeys)
        );
    }

    #[test]
    fn rename_moves_the_value_and_its_deadline() {
        let source = Some(Current {
            value: b"v",
            expires: Some(99),
        });
        let rename = ModifyMany::Rename { if_absent: false };
        let renamenx = ModifyMany::Rename { if_absent: true };
        let ab = keys(&["a", "b"]);
        assert_eq!(
            rename.apply(&ab, &[source, live(b"old")], 10),
            Ok((
                vec![Change::Delete, put("v", Some(99))],
                Modified::Integer(1)
            ))
        );
        assert_eq!(
            renamenx.apply(&ab, &[source, live(b"old")], 10),
            Ok((vec![Change::Keep, Change::Keep], Modified::Integer(0)))
        );
        assert_eq!(
            rename.apply(&ab, &[None, None], 10),
            Err(ModifyError::NoSuchKey)
        );
        let aa = keys(&["a", "a"]);
        assert_eq!(
            rename.apply(&aa, &[source, source], 10),
            Ok((vec![Change::Keep, Change::Keep], Modified::Integer(1))),
            "RENAME a a is OK and changes nothing"
        );
        assert_eq!(
            renamenx.apply(&aa, &[source, source], 10),
            Ok((vec![Change::Keep, Change::Keep], Modified::Integer(0)))
        );
    }

    #[test]
    fn copy_keeps_the_source_and_respects_replace() {
        let ab = keys(&["a", "b"]);
        let copy = ModifyMany::Copy { replace: false };
        assert_eq!(
            copy.apply(&ab, &[live(b"v"), None], 10),
            Ok((vec![Change::Keep, put("v", None)], Modified::Integer(1)))
        );
        assert_eq!(
            copy.apply(&ab, &[live(b"v"), live(b"w")], 10),
            Ok((vec![Change::Keep, Change::Keep], Modified::Integer(0)))
        );
        assert_eq!(
            ModifyMany::Copy { replace: true }.apply(&ab, &[live(b"v"), live(b"w")], 10),
            Ok((vec![Change::Keep, put("v", None)], Modified::Integer(1)))
        );
        assert_eq!(
            copy.apply(&ab, &[None, None], 10),
            Ok((vec![Change::Keep, Change::Keep], Modified::Integer(0)))
        );
    }

    #[test]
    fn bitop_pads_with_zeros_and_deletes_an_empty_result() {
        let dab = keys(&["d", "a", "b"]);
        let op = |o| ModifyMany::BitOp(o);
        let sources = [None, live(b"\xf0\x0f"), live(b"\xff")];
        let result = |bytes: &'static [u8]| Change::Put {
            value: Bytes::from_static(bytes),
            expires: None,
        };
        assert_eq!(
            op(BitOperation::And).apply(&dab, &sources, 10),
            Ok((
                vec![result(b"\xf0\x00"), Change::Keep, Change::Keep],
                Modified::Integer(2)
            ))
        );
        assert_eq!(
            op(BitOperation::Or).apply(&dab, &sources, 10),
            Ok((
                vec![result(b"\xff\x0f"), Change::Keep, Change::Keep],
                Modified::Integer(2)
            ))
        );
        assert_eq!(
            op(BitOperation::Xor).apply(&dab, &sources, 10),
            Ok((
                vec![result(b"\x0f\x0f"), Change::Keep, Change::Keep],
                Modified::Integer(2)
            ))
        );
        assert_eq!(
            op(BitOperation::Not).apply(&keys(&["d", "a"]), &[None, live(b"\x0f")], 10),
            Ok((vec![result(b"\xf0"), Change::Keep], Modified::Integer(1)))
        );
        assert_eq!(
            op(BitOperation::Or).apply(&dab, &[live(b"x"), None, None], 10),
            Ok((
                vec![Change::Delete, Change::Keep, Change::Keep],
                Modified::Integer(0)
            ))
        );
        assert_eq!(
            op(BitOperation::Not).apply(&dab, &sources, 10),
            Err(ModifyError::WrongKeys)
        );
    }
}
