//! Replies and their encoding in RESP2 or RESP3.
//!
//! A [`Reply`] carries the RESP3 shape of an answer (map, set, null, double, boolean,
//! verbatim text); [`Reply::encode`] takes the session's [`Protocol`] and falls back to the
//! RESP2 form Redis itself uses for each shape. There is one encoder, so a command cannot
//! answer a RESP2 client in RESP3 or the other way round.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol a connection speaks, chosen with `HELLO` (RESP2 until then, and after `RESET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2: every reply is a simple string, error, integer, bulk string or array.
    #[default]
    Resp2,
    /// RESP3: adds null, map, set, double, boolean and verbatim string.
    Resp3,
}

impl Protocol {
    /// The version number `HELLO` takes and reports.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }

    /// The protocol `HELLO <version>` asks for; `None` for versions Redis does not speak.
    pub fn from_version(version: i64) -> Option<Protocol> {
        match version {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => None,
        }
    }
}

/// One reply value.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text` — a short status such as `OK` or `PONG`; borrowed when it is a constant, so
    /// the `OK` of every pipelined `SET` costs no allocation.
    Simple(Cow<'static, str>),
    /// `-CODE message` — the first word is the error code (`ERR`, `WRONGTYPE`...).
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$len` followed by binary-safe bytes.
    Bulk(Bytes),
    /// A missing value: RESP3 `_`, RESP2 `$-1` (a nil bulk string).
    Nil,
    /// `*n` followed by n replies.
    Array(Vec<Reply>),
    /// RESP3 `%n` followed by n key/value pairs; RESP2 a flat array of 2n replies.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~n`; RESP2 an array.
    Set(Vec<Reply>),
    /// RESP3 `,value`; RESP2 a bulk string with the same digits.
    Double(f64),
    /// RESP3 `#t`/`#f`; RESP2 the integer 1 or 0.
    Boolean(bool),
    /// RESP3 `=len` with a three-letter format (`txt`) before the text; RESP2 a bulk string.
    /// Redis answers `INFO` and `CLIENT INFO`/`LIST` this way.
    Verbatim(Bytes),
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

    /// A bulk string copied from text (field names, configuration values).
    pub fn text(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Whether this reply is an error (counted as a failed command).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form of this reply in `protocol` to `out`.
    ///
    /// Simple strings and errors cannot carry line breaks in RESP, so any CR
    /// or LF in them is replaced by a space (as Redis does for errors).
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Simple(text) => encode_line(b'+', text, out),
            Reply::Error(text) => encode_line(b'-', text, out),
            Reply::Integer(value) => encode_header(b':', *value, out),
            Reply::Bulk(bytes) => encode_bulk(b'$', &[], bytes, out),
            Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => encode_aggregate(b'*', items, protocol, out),
            Reply::Set(items) => {
                encode_aggregate(if resp3 { b'~' } else { b'*' }, items, protocol, out);
            }
            Reply::Map(pairs) => {
                if resp3 {
                    encode_header(b'%', pairs.len(), out);
                } else {
                    encode_header(b'*', pairs.len() * 2, out);
                }
                for (key, value) in pairs {
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
            Reply::Double(value) => {
                let digits = double_digits(*value);
                if resp3 {
                    encode_line(b',', &digits, out);
                } else {
                    encode_bulk(b'$', &[], digits.as_bytes(), out);
                }
            }
            Reply::Boolean(value) if resp3 => {
                out.extend_from_slice(if *value { b"#t\r\n" } else { b"#f\r\n" });
            }
            Reply::Boolean(value) => encode_header(b':', u8::from(*value), out),
            Reply::Verbatim(text) if resp3 => encode_bulk(b'=', b"txt:", text, out),
            Reply::Verbatim(text) => encode_bulk(b'$', &[], text, out),
        }
    }

    /// The wire form in `protocol` as a fresh buffer (convenient in tests).
    pub fn to_bytes(&self, protocol: Protocol) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(protocol, &mut out);
        out.freeze()
    }
}

/// Redis's spelling of a double: `inf`, `-inf`, `nan`, else the shortest digits that read back
/// as the same value.
fn double_digits(value: f64) -> String {
    if value.is_nan() {
        "nan".into()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{value}")
    }
}

fn encode_aggregate(prefix: u8, items: &[Reply], protocol: Protocol, out: &mut BytesMut) {
    encode_header(prefix, items.len(), out);
    for item in items {
        item.encode(protocol, out);
    }
}

/// `<prefix><len>\r\n<head><body>\r\n`, the length counting `head` (a verbatim format).
fn encode_bulk(prefix: u8, head: &[u8], body: &[u8], out: &mut BytesMut) {
    encode_header(prefix, head.len() + body.len(), out);
    out.extend_from_slice(head);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// `<prefix><n>\r\n`: an integer reply, or the length line of a bulk string or aggregate. In
/// decimal by `itoa` rather than `write!`: every GET reply has one, and the formatting
/// machinery cost more than the digits (1.9 % of a node's time under pipelined INCRs).
fn encode_header(prefix: u8, n: impl itoa::Integer, out: &mut BytesMut) {
    let mut digits = itoa::Buffer::new();
    out.put_u8(prefix);
    out.extend_from_slice(digits.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
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
    fn encodes_every_kind_in_resp2() {
        let two = |reply: Reply| reply.to_bytes(Protocol::Resp2);
        assert_eq!(two(Reply::ok()), "+OK\r\n");
        assert_eq!(two(Reply::err("boom\r\nx")), "-ERR boom  x\r\n");
        assert_eq!(two(Reply::Integer(-7)), ":-7\r\n");
        assert_eq!(two(Reply::Bulk("a\r\nb".into())), "$4\r\na\r\nb\r\n");
        assert_eq!(two(Reply::Nil), "$-1\r\n");
        assert_eq!(
            two(Reply::Array(vec![Reply::Integer(1), Reply::Nil])),
            "*2\r\n:1\r\n$-1\r\n"
        );
        assert_eq!(two(Reply::Array(vec![])), "*0\r\n");
        assert_eq!(
            two(Reply::Map(vec![(Reply::text("a"), Reply::Integer(1))])),
            "*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(two(Reply::Set(vec![Reply::ok()])), "*1\r\n+OK\r\n");
        assert_eq!(two(Reply::Double(1.5)), "$3\r\n1.5\r\n");
        assert_eq!(two(Reply::Boolean(true)), ":1\r\n");
        assert_eq!(two(Reply::Verbatim("x\n".into())), "$2\r\nx\n\r\n");
    }

    #[test]
    fn encodes_every_kind_in_resp3() {
        let three = |reply: Reply| reply.to_bytes(Protocol::Resp3);
        assert_eq!(three(Reply::Nil), "_\r\n");
        assert_eq!(
            three(Reply::Array(vec![Reply::Bulk("1".into()), Reply::Nil])),
            "*2\r\n$1\r\n1\r\n_\r\n"
        );
        assert_eq!(
            three(Reply::Map(vec![(
                Reply::text("a"),
                Reply::Set(vec![Reply::Simple("x".into())])
            )])),
            "%1\r\n$1\r\na\r\n~1\r\n+x\r\n"
        );
        assert_eq!(three(Reply::Double(-0.25)), ",-0.25\r\n");
        assert_eq!(three(Reply::Double(f64::INFINITY)), ",inf\r\n");
        assert_eq!(three(Reply::Double(f64::NAN)), ",nan\r\n");
        assert_eq!(three(Reply::Boolean(false)), "#f\r\n");
        assert_eq!(three(Reply::Verbatim("x\n".into())), "=6\r\ntxt:x\n\r\n");
        assert_eq!(three(Reply::Integer(3)), ":3\r\n");
    }

    #[test]
    fn only_versions_two_and_three_exist() {
        assert_eq!(Protocol::from_version(3), Some(Protocol::Resp3));
        assert_eq!(Protocol::from_version(2).map(Protocol::version), Some(2));
        assert_eq!(Protocol::from_version(1), None);
        assert_eq!(Protocol::from_version(4), None);
    }
}
