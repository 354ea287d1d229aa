//! The keyspace commands over the whole cluster: SCAN, KEYS, TYPE, TOUCH, UNLINK, FLUSHALL and
//! FLUSHDB. SCAN's cursor is a ring position (see the table backend), so a scan survives nodes
//! joining and leaving; KEYS and FLUSHALL walk the same pages to the end.

use std::collections::HashSet;

use bytes::Bytes;

use super::Reply;
use crate::backend::{Backend, BackendError, Consistency};

/// Keys per page when KEYS and FLUSHALL walk the keyspace.
const WALK_PAGE: usize = 1000;

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Where to resume (0: the start).
    pub cursor: u64,
    /// Only keys matching this glob.
    pub pattern: Option<Bytes>,
    /// About how many keys to look at.
    pub count: usize,
    /// Only keys of this type (every key is a string).
    pub kind: Option<Bytes>,
}

impl Scan {
    /// Parses the arguments after `SCAN` (at least the cursor: arity was checked).
    pub fn parse(operands: &[Bytes]) -> Result<Scan, Reply> {
        let cursor = parse_cursor(operands.first().map_or(&[][..], |c| c.as_ref()))
            .ok_or_else(|| Reply::err("invalid cursor"))?;
        let mut scan = Scan {
            cursor,
            pattern: None,
            count: 10,
            kind: None,
        };
        let mut options = operands.iter().skip(1);
        while let Some(option) = options.next() {
            let value = options.next();
            match (option.to_ascii_uppercase().as_slice(), value) {
                (b"MATCH", Some(pattern)) => scan.pattern = Some(pattern.clone()),
                (b"COUNT", Some(count)) => {
                    let count = dtable::modify::parse_integer(count)
                        .ok_or_else(|| Reply::err("value is not an integer or out of range"))?;
                    if count < 1 {
                        return Err(Reply::err("syntax error"));
                    }
                    scan.count = usize::try_from(count).unwrap_or(usize::MAX);
                }
                (b"TYPE", Some(kind)) => scan.kind = Some(kind.clone()),
                _ => return Err(Reply::err("syntax error")),
            }
        }
        Ok(scan)
    }

    /// Runs one page: `[next cursor, [keys...]]`.
    pub async fn run(self, backend: &dyn Backend) -> Result<Reply, BackendError> {
        let (next, keys) = backend.scan(self.cursor, self.count).await?;
        let strings = self
            .kind
            .as_ref()
            .is_none_or(|kind| kind.eq_ignore_ascii_case(b"string"));
        let keys = keys
            .into_iter()
            .filter(|key| strings && self.pattern.as_ref().is_none_or(|p| glob(p, key)))
            .map(Reply::Bulk)
            .collect();
        Ok(Reply::Array(vec![
            Reply::Bulk(Bytes::from(next.to_string())),
            Reply::Array(keys),
        ]))
    }
}

/// A cursor as Redis reads it (C's `strtoul`, whole string): digits with an optional sign; a
/// `-` wraps around (`-1` is the largest cursor); nothing else, no overflow.
fn parse_cursor(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `RANDOMKEY`: the first key from a random point of the keyspace (wrapping once), or nil
/// when the cluster holds none.
pub async fn random_key(backend: &dyn Backend) -> Result<Option<Bytes>, BackendError> {
    use std::hash::{BuildHasher, Hasher};
    let mut seed = std::collections::hash_map::RandomState::new().build_hasher();
    seed.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let mut cursor = seed.finish();
    for _ in 0..2 {
        loop {
            let (next, keys) = backend.scan(cursor, 1).await?;
            if let Some(key) = keys.into_iter().next() {
                return Ok(Some(key));
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        cursor = 0;
    }
    Ok(None)
}

/// `KEYS pattern`: every key of the cluster matching `pattern`, each once.
pub async fn keys(pattern: &[u8], backend: &dyn Backend) -> Result<Reply, BackendError> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    walk(backend, |page| {
        for key in page {
            if glob(pattern, &key) && seen.insert(key.clone()) {
                found.push(Reply::Bulk(key));
            }
        }
        std::future::ready(Ok(()))
    })
    .await?;
    Ok(Reply::Array(found))
}

/// `FLUSHALL`/`FLUSHDB`: deletes every key of the cluster, page by page, as versioned deletes
/// (tombstones) at the session's write consistency, so no copy brings a key back. When a page
/// cannot be deleted the command stops and says how far it got.
pub async fn flush_all(backend: &dyn Backend, write: Consistency) -> Reply {
    // Shared with the per-page futures; a connection task may move between threads.
    let deleted = std::sync::atomic::AtomicUsize::new(0);
    let outcome = walk(backend, |page| {
        let count = page.len();
        let delete = backend.delete(page, write);
        let deleted = &deleted;
        async move {
            delete.await?;
            deleted.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    })
    .await;
    match outcome {
        Ok(()) => Reply::ok(),
        Err(error) => Reply::err(format!(
            "FLUSHALL stopped after deleting about {} keys: {error}",
            deleted.load(std::sync::atomic::Ordering::Relaxed)
        )),
    }
}

/// Calls `each` with every page of the keyspace, from the start to the end.
async fn walk<F, Fut>(backend: &dyn Backend, mut each: F) -> Result<(), BackendError>
where
    F: FnMut(Vec<Bytes>) -> Fut,
    Fut: std::future::Future<Output = Result<(), BackendError>>,
{
    let mut cursor = 0;
    loop {
        let (next, page) = backend.scan(cursor, WALK_PAGE).await?;
        if !page.is_empty() {
            each(page).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Redis's glob (`*`, `?`, `[abc]`, `[^a-z]`, `\\` escapes), case-sensitive, in time
/// proportional to pattern × key length whatever the pattern (one backtrack point: the last
/// `*`), so a pathological pattern cannot stall the node.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            star = Some((p, t));
            continue;
        }
        if let Some(next) = one(pattern, p, text[t]) {
            p = next;
            t += 1;
            continue;
        }
        match star {
            Some((after_star, from)) => {
                p = after_star;
                t = from + 1;
                star = Some((after_star, from + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// If the token at `pattern[p]` (not `*`) matches `byte`, the index after the token.
fn one(pattern: &[u8], p: usize, byte: u8) -> Option<usize> {
    match *pattern.get(p)? {
        b'?' => Some(p + 1),
        b'\\' if p + 1 < pattern.len() => (pattern[p + 1] == byte).then_some(p + 2),
        b'[' => {
            let mut i = p + 1;
            let negated = pattern.get(i) == Some(&b'^');
            if negated {
                i += 1;
            }
            let mut found = false;
            while i < pattern.len() && pattern[i] != b']' {
                if pattern[i] == b'\\' && i + 1 < pattern.len() {
                    found |= pattern[i + 1] == byte;
                    i += 2;
                } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']'
                {
                    let (a, b) = (pattern[i], pattern[i + 2]);
                    let (low, high) = if a <= b { (a, b) } else { (b, a) };
                    found |= (low..=high).contains(&byte);
                    i += 3;
                } else {
                    found |= pattern[i] == byte;
                    i += 1;
                }
            }
            // Past the `]` (an unterminated class ends the pattern, as in Redis).
            (found != negated).then_some((i + 1).min(pattern.len()))
        }
        literal => (literal == byte).then_some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_redis_does_and_case_sensitively() {
        for (pattern, text, want) in [
            ("*", "", true),
            ("*", "abc", true),
            ("a*", "abc", true),
            ("A*", "abc", false),
            ("*c", "abc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("h[ae]llo", "hello", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hbllo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:mail", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
        ] {
            assert_eq!(
                glob(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern} {text}"
            );
        }
    }

    #[test]
    fn a_pathological_pattern_is_still_linear_enough() {
        let pattern = "a*".repeat(50) + "b";
        let text = "a".repeat(5000);
        assert!(!glob(pattern.as_bytes(), text.as_bytes()));
    }

    #[test]
    fn scan_options_are_checked_as_redis_checks_them() {
        let parse = |words: &[&str]| {
            Scan::parse(
                &words
                    .iter()
                    .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(parse(&["x"]), Err(Reply::err("invalid cursor")));
        assert_eq!(parse(&["5x"]), Err(Reply::err("invalid cursor")));
        assert_eq!(parse(&[" 5"]), Err(Reply::err("invalid cursor")));
        assert_eq!(
            parse(&["18446744073709551616"]),
            Err(Reply::err("invalid cursor"))
        );
        assert_eq!(parse(&["-1"]).map(|s| s.cursor), Ok(u64::MAX));
        assert_eq!(parse(&["+5"]).map(|s| s.cursor), Ok(5));
        assert_eq!(parse(&["0", "COUNT", "0"]), Err(Reply::err("syntax error")));
        assert_eq!(
            parse(&["0", "COUNT", "x"]),
            Err(Reply::err("value is not an integer or out of range"))
        );
        assert_eq!(parse(&["0", "MATCH"]), Err(Reply::err("syntax error")));
        assert_eq!(parse(&["0", "bogus", "1"]), Err(Reply::err("syntax error")));
        let scan = parse(&["7", "match", "k*", "count", "5", "type", "string"]).unwrap();
        assert_eq!((scan.cursor, scan.count), (7, 5));
    }
}
