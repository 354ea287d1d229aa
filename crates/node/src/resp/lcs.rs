//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
//! subsequence of two values, reconstructed the way Redis 7 does it (so ties resolve to the
//! same answer, byte for byte).

use bytes::Bytes;

use super::Reply;

/// Most cells of the dynamic-programming table one LCS may use (4 bytes each): the values a
/// node compares are bounded by this, not by the value limit, so one command cannot take
/// gigabytes of memory.
const MAX_CELLS: usize = 1 << 24;

/// The options after the two keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `LEN`: only the length.
    pub len: bool,
    /// `IDX`: the matching ranges.
    pub idx: bool,
    /// `MINMATCHLEN`: ranges shorter than this are left out.
    pub min_match_len: u64,
    /// `WITHMATCHLEN`: each range with its length.
    pub with_match_len: bool,
}

impl Options {
    /// Parses the arguments after the keys, as Redis does.
    pub fn parse(args: &[Bytes]) -> Result<Options, Reply> {
        let mut options = Options::default();
        let mut rest = args.iter();
        while let Some(option) = rest.next() {
            match option.to_ascii_uppercase().as_slice() {
                b"IDX" => options.idx = true,
                b"LEN" => options.len = true,
                b"WITHMATCHLEN" => options.with_match_len = true,
                b"MINMATCHLEN" => {
                    let Some(value) = rest.next() else {
                        return Err(Reply::err("syntax error"));
                    };
                    let value = dtable::modify::parse_integer(value)
                        .ok_or_else(|| Reply::err("value is not an integer or out of range"))?;
                    options.min_match_len = value.max(0).unsigned_abs();
                }
                _ => return Err(Reply::err("syntax error")),
            }
        }
        if options.idx && options.len {
            return Err(Reply::err(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(options)
    }
}

/// The reply to LCS of `a` and `b` (absent keys are empty strings).
pub fn reply(a: &[u8], b: &[u8], options: Options) -> Reply {
    if (a.len() + 1).saturating_mul(b.len() + 1) > MAX_CELLS {
        return Reply::err(format!(
            "LCS of values of {} and {} bytes needs more than {MAX_CELLS} table cells",
            a.len(),
            b.len()
        ));
    }
    let width = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let length = table[a.len() * width + b.len()];
    if options.len {
        return Reply::Integer(i64::from(length));
    }
    // Walk back from the end, as Redis does, collecting the string and the ranges.
    let mut text = vec![0u8; length as usize];
    let mut at = text.len();
    let mut ranges = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    let mut open: Option<[usize; 4]> = None; // a start, a end, b start, b end
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            at -= 1;
            text[at] = a[i - 1];
            match &mut open {
                None => open = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(range) if range[0] == i && range[2] == j => {
                    range[0] -= 1;
                    range[2] -= 1;
                }
                Some(_) => emit = true,
            }
            if open.is_some_and(|r| r[0] == 0 || r[2] == 0) {
                emit = true;
            }
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit |= open.is_some();
        }
        if emit {
            if let Some([a0, a1, b0, b1]) = open.take() {
                let len = (a1 - a0 + 1) as u64;
                if options.min_match_len == 0 || len >= options.min_match_len {
                    let int = |n: usize| Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX));
                    let mut range = vec![
                        Reply::Array(vec![int(a0), int(a1)]),
                        Reply::Array(vec![int(b0), int(b1)]),
                    ];
                    if options.with_match_len {
                        range.push(Reply::Integer(i64::try_from(len).unwrap_or(i64::MAX)));
                    }
                    ranges.push(Reply::Array(range));
                }
            }
        }
    }
    if options.idx {
        Reply::Map(vec![
            (Reply::text("matches"), Reply::Array(ranges)),
            (Reply::text("len"), Reply::Integer(i64::from(length))),
        ])
    } else {
        Reply::Bulk(Bytes::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_redis_finds() {
        let all = Options::default();
        assert_eq!(reply(b"ohmytext", b"mynewtext", all), Reply::text("mytext"));
        let len = Options { len: true, ..all };
        assert_eq!(reply(b"ohmytext", b"mynewtext", len), Reply::Integer(6));
        assert_eq!(reply(b"", b"abc", all), Reply::text(""));
        let idx = Options { idx: true, ..all };
        let int = Reply::Integer;
        assert_eq!(
            reply(b"ohmytext", b"mynewtext", idx),
            Reply::Map(vec![
                (
                    Reply::text("matches"),
                    Reply::Array(vec![
                        Reply::Array(vec![
                            Reply::Array(vec![int(4), int(7)]),
                            Reply::Array(vec![int(5), int(8)]),
                        ]),
                        Reply::Array(vec![
                            Reply::Array(vec![int(2), int(3)]),
                            Reply::Array(vec![int(0), int(1)]),
                        ]),
                    ])
                ),
                (Reply::text("len"), int(6)),
            ])
        );
    }
}
