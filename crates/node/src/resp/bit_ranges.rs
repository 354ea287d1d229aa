//! The optional ranges of BITPOS and BITCOUNT (`start`, `end`, and whether they count bytes or
//! bits), parsed with Redis's errors.

use bytes::Bytes;

use super::commands::{not_an_integer, parse_integer, syntax_error};
use super::Reply;

/// The optional `start [end [BYTE|BIT]]` of BITPOS (`true`: bits).
pub(super) fn bitpos_range(args: &[Bytes]) -> Result<Option<(i64, Option<i64>, bool)>, Reply> {
    let integer = |arg: &Bytes| parse_integer(arg).ok_or_else(not_an_integer);
    match args {
        [] => Ok(None),
        [start] => Ok(Some((integer(start)?, None, false))),
        [start, end] => Ok(Some((integer(start)?, Some(integer(end)?), false))),
        [start, end, unit] => {
            let (start, end) = (integer(start)?, integer(end)?);
            let unit = unit.to_ascii_uppercase();
            let bits = match unit.as_slice() {
                b"BYTE" => false,
                b"BIT" => true,
                _ => return Err(syntax_error()),
            };
            Ok(Some((start, Some(end), bits)))
        }
        _ => Err(syntax_error()),
    }
}

/// The optional `start end [BYTE|BIT]` of BITCOUNT (`true`: bits).
pub(super) fn bitcount_range(args: &[Bytes]) -> Result<Option<(i64, i64, bool)>, Reply> {
    match args {
        [] => Ok(None),
        [start, end, unit @ ..] if unit.len() <= 1 => {
            let start = parse_integer(start).ok_or_else(not_an_integer)?;
            let end = parse_integer(end).ok_or_else(not_an_integer)?;
            let bits = match unit.first().map(|u| u.to_ascii_uppercase()) {
                None => false,
                Some(unit) if unit == b"BYTE" => false,
                Some(unit) if unit == b"BIT" => true,
                Some(_) => return Err(syntax_error()),
            };
            Ok(Some((start, end, bits)))
        }
        _ => Err(syntax_error()),
    }
}
