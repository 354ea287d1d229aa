//! Splitting inline commands (`PING`, `SET "a b" c`) into arguments.
//!
//! Follows the quoting rules Redis uses for inline requests: arguments are
//! separated by whitespace; double quotes allow `\n`, `\r`, `\t`, `\b`, `\a`,
//! `\\`, `\"` and `\xHH` escapes; single quotes allow only `\'`. A closing
//! quote must be followed by whitespace or the end of the line.

use bytes::Bytes;

/// The line has an opening quote without a matching closing quote, or a
/// closing quote glued to the next word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedQuotes;

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Splits one inline request line (without its line ending) into arguments.
pub fn split_inline(line: &[u8]) -> Result<Vec<Bytes>, UnbalancedQuotes> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && is_space(line[pos]) {
            pos += 1;
        }
        if pos == line.len() {
            return Ok(args);
        }
        let (arg, next) = split_one(line, pos)?;
        args.push(Bytes::from(arg));
        pos = next;
    }
}

/// Reads one argument starting at `start` (not whitespace); returns it and
/// the position just after it.
fn split_one(line: &[u8], start: usize) -> Result<(Vec<u8>, usize), UnbalancedQuotes> {
    let mut current = Vec::new();
    let mut pos = start;
    let mut in_double = false;
    let mut in_single = false;
    loop {
        let Some(&byte) = line.get(pos) else {
            if in_double || in_single {
                return Err(UnbalancedQuotes);
            }
            return Ok((current, pos));
        };
        if in_double {
            match byte {
                b'\\' if pos + 3 < line.len() && line[pos + 1] == b'x' => {
                    match (hex_value(line[pos + 2]), hex_value(line[pos + 3])) {
                        (Some(high), Some(low)) => {
                            current.push(high * 16 + low);
                            pos += 3;
                        }
                        _ => {
                            current.push(b'x');
                            pos += 1;
                        }
                    }
                }
                b'\\' if pos + 1 < line.len() => {
                    pos += 1;
                    current.push(match line[pos] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                }
                b'"' => {
                    if line.get(pos + 1).is_some_and(|next| !is_space(*next)) {
                        return Err(UnbalancedQuotes);
                    }
                    return Ok((current, pos + 1));
                }
                other => current.push(other),
            }
        } else if in_single {
            match byte {
                b'\\' if line.get(pos + 1) == Some(&b'\'') => {
                    current.push(b'\'');
                    pos += 1;
                }
                b'\'' => {
                    if line.get(pos + 1).is_some_and(|next| !is_space(*next)) {
                        return Err(UnbalancedQuotes);
                    }
                    return Ok((current, pos + 1));
                }
                other => current.push(other),
            }
        } else {
            match byte {
                _ if is_space(byte) => return Ok((current, pos)),
                b'"' => in_double = true,
                b'\'' => in_single = true,
                other => current.push(other),
            }
        }
        pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, UnbalancedQuotes> {
        split_inline(line.as_bytes()).map(|args| {
            args.iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
    }

    #[test]
    fn splits_on_whitespace() {
        assert_eq!(split("  SET a   b\t").unwrap(), ["SET", "a", "b"]);
        assert!(split("   ").unwrap().is_empty());
    }

    #[test]
    fn handles_quotes_and_escapes() {
        assert_eq!(split(r#"SET "a b" 'c d'"#).unwrap(), ["SET", "a b", "c d"]);
        assert_eq!(split(r#""\x41\n" 'it\'s'"#).unwrap(), ["A\n", "it's"]);
        assert_eq!(split(r#""""#).unwrap(), [""]);
        assert_eq!(split(r#""\xZZ""#).unwrap(), ["xZZ"]);
    }

    #[test]
    fn rejects_unbalanced_quotes() {
        assert_eq!(split(r#"SET "a b"#), Err(UnbalancedQuotes));
        assert_eq!(split(r#"SET 'a"#), Err(UnbalancedQuotes));
        assert_eq!(split(r#"SET "a"b"#), Err(UnbalancedQuotes));
    }
}
