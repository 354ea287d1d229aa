//! The commands that read and write several keys in one step — MSETNX, RENAME, RENAMENX, COPY
//! and BITOP — parsed as Redis 7 parses them into a table [`ModifyMany`], which runs at the
//! keys' one primary (keys on different primaries get CROSSSLOT, as in Redis Cluster; a
//! common `{hash tag}` keeps keys together).

use bytes::Bytes;
use dtable::{BitOperation, ModifyMany};

use super::commands::{eq_ignore_case, syntax_error, wrong_arity};
use super::strings::Answer;
use super::Reply;

/// A parsed multi-key read-modify-write: the keys, the operation and how its outcome is
/// worded.
pub type Parsed = (Vec<Bytes>, ModifyMany, Answer);

/// Parses the multi-key commands (`args[0]` the lowercase name; arity already checked).
/// `None` for other commands.
pub fn parse(name: &str, args: &[Bytes]) -> Option<Result<Parsed, Reply>> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let parsed = match name {
        "msetnx" => {
            if args.len() % 2 == 0 {
                return Some(Err(wrong_arity(name)));
            }
            let (keys, values) = args[1..]
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .unzip();
            Ok((keys, ModifyMany::SetAllIfNone(values), Answer::Integer))
        }
        "rename" => Ok((
            vec![arg(1), arg(2)],
            ModifyMany::Rename { if_absent: false },
            Answer::Ok,
        )),
        "renamenx" => Ok((
            vec![arg(1), arg(2)],
            ModifyMany::Rename { if_absent: true },
            Answer::Integer,
        )),
        "copy" => copy(args),
        "bitop" => bitop(args),
        _ => return None,
    };
    Some(parsed)
}

/// `COPY source destination [DB destination-db] [REPLACE]`: one database, so only `DB 0`.
fn copy(args: &[Bytes]) -> Result<Parsed, Reply> {
    let mut replace = false;
    let mut at = 3;
    while at < args.len() {
        if eq_ignore_case(&args[at], "replace") {
            replace = true;
        } else if eq_ignore_case(&args[at], "db") && at + 1 < args.len() {
            let db = dtable::modify::parse_integer(&args[at + 1])
                .filter(|db| i32::try_from(*db).is_ok())
                .ok_or_else(|| Reply::err("value is not an integer or out of range"))?;
            if db != 0 {
                return Err(Reply::err("DB index is out of range"));
            }
            at += 1;
        } else {
            return Err(syntax_error());
        }
        at += 1;
    }
    if args[1] == args[2] {
        return Err(Reply::err("source and destination objects are the same"));
    }
    Ok((
        vec![args[1].clone(), args[2].clone()],
        ModifyMany::Copy { replace },
        Answer::Integer,
    ))
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`.
fn bitop(args: &[Bytes]) -> Result<Parsed, Reply> {
    let operation = [
        ("and", BitOperation::And),
        ("or", BitOperation::Or),
        ("xor", BitOperation::Xor),
        ("not", BitOperation::Not),
    ]
    .into_iter()
    .find(|(word, _)| eq_ignore_case(&args[1], word))
    .map(|(_, operation)| operation)
    .ok_or_else(syntax_error)?;
    if operation == BitOperation::Not && args.len() != 4 {
        return Err(Reply::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    Ok((
        args[2..].to_vec(),
        ModifyMany::BitOp(operation),
        Answer::Integer,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(words: &[&str]) -> Result<Parsed, Reply> {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        parse(words[0], &args).unwrap()
    }

    #[test]
    fn parses_as_redis_does() {
        assert_eq!(
            parsed(&["msetnx", "a", "1", "b", "2"]).map(|p| p.0),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            parsed(&["msetnx", "a", "1", "b"]).unwrap_err(),
            wrong_arity("msetnx")
        );
        assert_eq!(
            parsed(&["copy", "a", "b", "DB", "0", "replace"]).map(|p| p.1),
            Ok(ModifyMany::Copy { replace: true })
        );
        assert_eq!(
            parsed(&["copy", "a", "b", "DB", "1"]).unwrap_err(),
            Reply::err("DB index is out of range")
        );
        assert_eq!(
            parsed(&["copy", "a", "b", "DB"]).unwrap_err(),
            syntax_error()
        );
        assert_eq!(
            parsed(&["copy", "a", "a"]).unwrap_err(),
            Reply::err("source and destination objects are the same")
        );
        assert_eq!(
            parsed(&["bitop", "NOT", "d", "a", "b"]).unwrap_err(),
            Reply::err("BITOP NOT must be called with a single source key.")
        );
        assert_eq!(
            parsed(&["bitop", "nand", "d", "a"]).unwrap_err(),
            syntax_error()
        );
        assert_eq!(
            parsed(&["bitop", "xor", "d", "a", "b"]).map(|p| p.0),
            Ok(vec!["d".into(), "a".into(), "b".into()])
        );
    }
}
