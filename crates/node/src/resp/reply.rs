//! RESP2 replies and their encoding.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// One RESP2 reply value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text` — a short status such as `OK` or `PONG`.
    Simple(String),
    /// `-CODE message` — the first word is the error code (`ERR`, `WRONGTYPE`...).
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$len` followed by binary-safe bytes.
    Bulk(Bytes),
    /// `$-1` — a missing value.
    Nil,
    /// `*n` followed by n replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An `ERR`-coded error with the given message.
    pub fn err(message: impl std::fmt::Display) -> Reply {
        Reply::Error(format!("ERR {message}"))
    }

    /// Whether this reply is an error (counted as a failed command).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form of this reply to `out`.
    ///
    /// Simple strings and errors cannot carry line breaks in RESP, so any CR
    /// or LF in them is replaced by a space (as Redis does for errors).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Reply::Simple(text) => encode_line(b'+', text, out),
            Reply::Error(text) => encode_line(b'-', text, out),
            Reply::Integer(value) => {
                // Writing to a BytesMut cannot fail.
                let _ = write!(out, ":{value}\r\n");
            }
            Reply::Bulk(bytes) => {
                let _ = write!(out, "${}\r\n", bytes.len());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                let _ = write!(out, "*{}\r\n", items.len());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    /// The wire form as a fresh buffer (convenient in tests).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

fn encode_line(prefix: u8, text: &str, out: &mut BytesMut) {
    out.put_u8(prefix);
    out.extend(text.bytes().map(|byte| {
        if byte == b'\r' || byte == b'\n' {
            b' '
        } else {
            byte
        }
    }));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_kind() {
        assert_eq!(Reply::ok().to_bytes(), "+OK\r\n");
        assert_eq!(Reply::err("boom\r\nx").to_bytes(), "-ERR boom  x\r\n");
        assert_eq!(Reply::Integer(-7).to_bytes(), ":-7\r\n");
        assert_eq!(Reply::Bulk("a\r\nb".into()).to_bytes(), "$4\r\na\r\nb\r\n");
        assert_eq!(Reply::Nil.to_bytes(), "$-1\r\n");
        assert_eq!(
            Reply::Array(vec![Reply::Integer(1), Reply::Nil]).to_bytes(),
            "*2\r\n:1\r\n$-1\r\n"
        );
        assert_eq!(Reply::Array(vec![]).to_bytes(), "*0\r\n");
    }
}
