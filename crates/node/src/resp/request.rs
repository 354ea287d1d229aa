//! Incremental parsing of client requests.
//!
//! Clients send either multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`,
//! what every client library sends) or inline lines (`PING\r\n`, what
//! `redis-cli` and telnet users type). The parser is pure: it looks at a
//! `BytesMut`, consumes what it could parse and keeps partial state between
//! calls, so a 512 MiB value arriving in small reads is not re-scanned.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::inline::split_inline;

/// Bounds that protect the server from hostile or broken clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest single argument (Redis: `proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: usize,
    /// Most arguments in one request (Redis: 1024 * 1024).
    pub max_args: usize,
    /// Longest inline request or length line (Redis: 64 KiB).
    pub max_inline_len: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Input that is not valid RESP; the server replies
/// `-ERR Protocol error: <this>` and closes the connection, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `*<n>` with n not a number or above the argument limit.
    #[error("invalid multibulk length")]
    MultibulkLength,
    /// An array element did not start with `$`.
    #[error("expected '$', got '{}'", Printable(*.0))]
    ExpectedBulk(u8),
    /// `$<n>` with n not a number, negative, or above the size limit.
    #[error("invalid bulk length")]
    BulkLength,
    /// No line end within the limit after `*`.
    #[error("too big mbulk count string")]
    CountTooLong,
    /// No line end within the limit after `$`.
    #[error("too big bulk count string")]
    BulkCountTooLong,
    /// An inline request longer than the limit.
    #[error("too big inline request")]
    InlineTooLong,
    /// An inline request with an unclosed quote.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A bulk string not followed by CRLF.
    #[error("expected CRLF after bulk string")]
    MissingCrlf,
}

/// Shows a byte the way a human can read it in an error message.
struct Printable(u8);

impl fmt::Display for Printable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() || self.0 == b' ' {
            write!(f, "{}", self.0 as char)
        } else {
            write!(f, "\\x{:02x}", self.0)
        }
    }
}

/// Progress through a multibulk request that has not fully arrived.
#[derive(Debug)]
struct Multibulk {
    remaining: usize,
    args: Vec<Bytes>,
    pending_bulk: Option<usize>,
}

/// Parses requests out of a connection's input buffer, one at a time.
#[derive(Debug)]
pub struct RequestParser {
    limits: ParseLimits,
    partial: Option<Multibulk>,
}

/// Arguments preallocated before they arrive are capped so a client cannot
/// make us reserve memory it never sends.
const MAX_PREALLOCATED_ARGS: usize = 1024;
const MAX_PREALLOCATED_BULK: usize = 1024 * 1024;

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: ParseLimits) -> RequestParser {
        RequestParser {
            limits,
            partial: None,
        }
    }

    /// Takes the next complete request (command name first) out of `buf`.
    ///
    /// `Ok(None)` means more input is needed; whatever was consumed is
    /// remembered. Empty requests (`*0`, blank lines) are skipped.
    pub fn next_request(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if let Some(mut partial) = self.partial.take() {
                let done = self.continue_multibulk(&mut partial, buf)?;
                if done {
                    return Ok(Some(partial.args));
                }
                self.partial = Some(partial);
                return Ok(None);
            }
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first == b'*' {
                if let Some(args) = take_whole_multibulk(buf, &self.limits) {
                    return Ok(Some(args));
                }
                let Some(count) = take_length(
                    buf,
                    self.limits.max_inline_len,
                    ProtocolError::CountTooLong,
                    ProtocolError::MultibulkLength,
                )?
                else {
                    return Ok(None);
                };
                if count > self.limits.max_args as i64 {
                    return Err(ProtocolError::MultibulkLength);
                }
                if count <= 0 {
                    continue;
                }
                // `count` is positive and at most max_args, so it fits.
                let remaining = count as usize;
                self.partial = Some(Multibulk {
                    remaining,
                    args: Vec::with_capacity(remaining.min(MAX_PREALLOCATED_ARGS)),
                    pending_bulk: None,
                });
            } else {
                let Some(line) = take_line(
                    buf,
                    self.limits.max_inline_len,
                    ProtocolError::InlineTooLong,
                )?
                else {
                    return Ok(None);
                };
                let args = split_inline(&line).map_err(|_| ProtocolError::UnbalancedQuotes)?;
                if !args.is_empty() {
                    return Ok(Some(args));
                }
            }
        }
    }

    /// Reads as many array elements as `buf` holds; true when all arrived.
    fn continue_multibulk(
        &self,
        partial: &mut Multibulk,
        buf: &mut BytesMut,
    ) -> Result<bool, ProtocolError> {
        while partial.remaining > 0 {
            let len = match partial.pending_bulk {
                Some(len) => len,
                None => {
                    let Some(&first) = buf.first() else {
                        return Ok(false);
                    };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedBulk(first));
                    }
                    let Some(len) = take_length(
                        buf,
                        self.limits.max_inline_len,
                        ProtocolError::BulkCountTooLong,
                        ProtocolError::BulkLength,
                    )?
                    else {
                        return Ok(false);
                    };
                    if len < 0 || len > self.limits.max_bulk_len as i64 {
                        return Err(ProtocolError::BulkLength);
                    }
                    // Non-negative and at most max_bulk_len, so it fits.
                    let len = len as usize;
                    partial.pending_bulk = Some(len);
                    let missing = (len + 2).saturating_sub(buf.len());
                    buf.reserve(missing.min(MAX_PREALLOCATED_BULK));
                    len
                }
            };
            if buf.len() < len + 2 {
                return Ok(false);
            }
            if &buf[len..len + 2] != b"\r\n" {
                return Err(ProtocolError::MissingCrlf);
            }
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            partial.args.push(arg);
            partial.pending_bulk = None;
            partial.remaining -= 1;
        }
        Ok(true)
    }
}

/// Most arguments [`take_whole_multibulk`] handles; longer requests take the general path.
const MAX_WHOLE_ARGS: usize = 8;

/// The common case in one pass: a multibulk request that has fully arrived at the front of
/// `buf`, in the plain form client libraries send (`*<n>\r\n` then `n` times `$<len>\r\n`,
/// `<len>` bytes and `\r\n`, lengths as plain decimals, at most [`MAX_WHOLE_ARGS`]
/// arguments), is located without touching `buf`, then split off as one piece that the
/// arguments are slices of. `None` for anything else (not yet arrived, another form, or
/// invalid), with `buf` untouched: the general path then parses it and reports any error.
///
/// Why: the general path splits each argument off and skips each length line separately,
/// two `BytesMut` updates per argument (a reference count and the buffer's bookkeeping); a
/// pipelined `SET` has seven such steps, this path one split and one slice per argument.
fn take_whole_multibulk(buf: &mut BytesMut, limits: &ParseLimits) -> Option<Vec<Bytes>> {
    let bytes = &buf[..];
    let mut at = 0;
    let count = plain_length(bytes, &mut at, b'*', limits.max_inline_len)?;
    if count == 0 || count > MAX_WHOLE_ARGS || count > limits.max_args {
        return None;
    }
    let mut spans = [(0, 0); MAX_WHOLE_ARGS];
    for span in &mut spans[..count] {
        let len = plain_length(bytes, &mut at, b'$', limits.max_inline_len)?;
        if len > limits.max_bulk_len || bytes.get(at + len..at + len + 2)? != b"\r\n" {
            return None;
        }
        *span = (at, len);
        at += len + 2;
    }
    let whole = buf.split_to(at).freeze();
    Some(
        spans[..count]
            .iter()
            .map(|&(start, len)| whole.slice(start..start + len))
            .collect(),
    )
}

/// Reads a `<kind><digits>\r\n` line at `*at` and steps past it: the number, or `None` when
/// the line is incomplete or not in that plain form (a sign, no digit, more than 19 digits,
/// a bare LF), or longer than `max_len`. The digits are read by [`parse_length`].
fn plain_length(bytes: &[u8], at: &mut usize, kind: u8, max_len: usize) -> Option<usize> {
    let line = bytes.get(*at..)?;
    if *line.first()? != kind {
        return None;
    }
    // The kind byte, at most 19 digits (every `i64`), then the CR.
    let cr = line.iter().take(21).position(|&byte| byte == b'\r')?;
    let digits = &line[1..cr];
    // The line's length up to its LF, as `line_end` measures it.
    if !digits.first()?.is_ascii_digit() || *line.get(cr + 1)? != b'\n' || cr + 1 > max_len {
        return None;
    }
    let value = usize::try_from(parse_length(digits)?).ok()?;
    *at += cr + 2;
    Some(value)
}

/// Removes one LF-terminated line (without the line end, and without a
/// trailing CR) from `buf`, or returns `None` if it has not fully arrived.
fn take_line(
    buf: &mut BytesMut,
    max_len: usize,
    too_long: ProtocolError,
) -> Result<Option<Bytes>, ProtocolError> {
    let Some(end) = line_end(buf, max_len, too_long)? else {
        return Ok(None);
    };
    let mut line = buf.split_to(end + 1);
    line.truncate(end);
    if line.last() == Some(&b'\r') {
        line.truncate(end - 1);
    }
    Ok(Some(line.freeze()))
}

/// Where the first line of `buf` ends (the offset of its LF), `None` if it has not fully
/// arrived, or `too_long` once the line is longer than `max_len`, complete or not.
fn line_end(
    buf: &[u8],
    max_len: usize,
    too_long: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    match buf.iter().position(|&byte| byte == b'\n') {
        Some(end) if end > max_len => Err(too_long),
        Some(end) => Ok(Some(end)),
        None if buf.len() > max_len => Err(too_long),
        None => Ok(None),
    }
}

/// Consumes one `*count` or `$length` line from `buf` and returns its number, or `None` if the
/// line has not fully arrived; `bad` if the line after its type byte is not a number.
///
/// The line is parsed where it lies and skipped, not split off: a split-off `Bytes` costs two
/// atomic reference-count updates, and a pipelined `GET` has three such lines.
fn take_length(
    buf: &mut BytesMut,
    max_len: usize,
    too_long: ProtocolError,
    bad: ProtocolError,
) -> Result<Option<i64>, ProtocolError> {
    let Some(end) = line_end(buf, max_len, too_long)? else {
        return Ok(None);
    };
    let line = &buf[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let number = line.get(1..).and_then(parse_length).ok_or(bad)?;
    buf.advance(end + 1);
    Ok(Some(number))
}

/// Parses a decimal length such as `12`, `+3` or `-1` (what `i64::from_str` accepts); `None`
/// if it is not one or does not fit.
fn parse_length(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i64, |value, &digit| {
        let digit = i64::from(char::from(digit).to_digit(10)?);
        let value = value.checked_mul(10)?;
        if negative {
            value.checked_sub(digit)
        } else {
            value.checked_add(digit)
        }
    })
}

/// Appends `args` as a RESP multibulk request (what a client library sends).
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    use std::fmt::Write as _;
    // Writing to a BytesMut cannot fail.
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let arg = arg.as_ref();
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = RequestParser::new(ParseLimits::default());
        let mut buf = BytesMut::from(input);
        let mut requests = Vec::new();
        while let Some(request) = parser.next_request(&mut buf)? {
            requests.push(request);
        }
        Ok(requests)
    }

    #[test]
    fn parses_multibulk_and_inline() {
        let requests =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\nECHO hi\n").unwrap();
        assert_eq!(
            requests,
            vec![
                vec![Bytes::from("GET"), Bytes::from("k")],
                vec![Bytes::from("PING")],
                vec![Bytes::from("ECHO"), Bytes::from("hi")],
            ]
        );
    }

    #[test]
    fn resumes_across_partial_input() {
        let wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut parser = RequestParser::new(ParseLimits::default());
        let mut buf = BytesMut::new();
        for (index, byte) in wire.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let parsed = parser.next_request(&mut buf).unwrap();
            if index + 1 < wire.len() {
                assert_eq!(parsed, None, "complete too early at byte {index}");
            } else {
                assert_eq!(parsed.unwrap().len(), 3);
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn reports_redis_protocol_errors() {
        assert_eq!(parse_all(b"*x\r\n"), Err(ProtocolError::MultibulkLength));
        assert_eq!(
            parse_all(b"*2000000\r\n"),
            Err(ProtocolError::MultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n:1\r\n"),
            Err(ProtocolError::ExpectedBulk(b':'))
        );
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ProtocolError::BulkLength));
        assert_eq!(
            parse_all(b"*1\r\n$999999999999\r\n"),
            Err(ProtocolError::BulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$1\r\nabc\r\n"),
            Err(ProtocolError::MissingCrlf)
        );
        assert_eq!(
            parse_all(b"SET \"a\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(&[b'a'; 70_000]),
            Err(ProtocolError::InlineTooLong)
        );
        assert_eq!(
            ProtocolError::ExpectedBulk(b'x').to_string(),
            "expected '$', got 'x'"
        );
        assert_eq!(
            ProtocolError::ExpectedBulk(0).to_string(),
            "expected '$', got '\\x00'"
        );
    }

    #[test]
    fn respects_custom_limits() {
        let limits = ParseLimits {
            max_bulk_len: 4,
            max_args: 2,
            max_inline_len: 16,
        };
        let mut parser = RequestParser::new(limits);
        let mut buf = BytesMut::from(&b"*1\r\n$5\r\nhello\r\n"[..]);
        assert_eq!(
            parser.next_request(&mut buf),
            Err(ProtocolError::BulkLength)
        );
        let mut parser = RequestParser::new(limits);
        let mut buf = BytesMut::from(&b"*3\r\n"[..]);
        assert_eq!(
            parser.next_request(&mut buf),
            Err(ProtocolError::MultibulkLength)
        );
    }

    proptest! {
        /// The hand-written length parser accepts exactly what `i64::from_str` accepts, with
        /// the same value (the parser it replaced).
        #[test]
        fn lengths_parse_as_the_standard_library_does(
            text in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..24),
                "[+-]?[0-9]{0,20}".prop_map(String::into_bytes),
            ],
        ) {
            let expected = std::str::from_utf8(&text).ok().and_then(|t| t.parse::<i64>().ok());
            prop_assert_eq!(parse_length(&text), expected);
        }

        #[test]
        fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_all(&input);
        }

        #[test]
        fn random_bytes_after_a_star_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut wire = b"*3\r\n$".to_vec();
            wire.extend_from_slice(&input);
            let _ = parse_all(&wire);
        }

        #[test]
        fn encode_then_parse_round_trips(
            requests in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
                1..8,
            ),
            split_at in any::<prop::sample::Index>(),
        ) {
            let mut wire = BytesMut::new();
            for request in &requests {
                encode_request(request, &mut wire);
            }
            // Feed the input in two pieces to exercise resumption.
            let cut = split_at.index(wire.len() + 1);
            let mut parser = RequestParser::new(ParseLimits::default());
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut parsed = Vec::new();
            while let Some(request) = parser.next_request(&mut buf).unwrap() {
                parsed.push(request);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(request) = parser.next_request(&mut buf).unwrap() {
                parsed.push(request);
            }
            let expected: Vec<Vec<Bytes>> = requests
                .iter()
                .map(|request| request.iter().map(|arg| Bytes::copy_from_slice(arg)).collect())
                .collect();
            prop_assert_eq!(parsed, expected);
            prop_assert!(buf.is_empty());
        }

        /// The one-pass path for whole requests (taken when a request arrives at once) and the
        /// general path (taken when it arrives a byte at a time) agree on every input: the
        /// same requests, then the same error or both waiting for more. The inputs are valid
        /// requests with one byte changed or deleted, which reaches every check of both paths.
        #[test]
        fn whole_requests_parse_as_byte_by_byte_ones(
            requests in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 1..10),
                1..4,
            ),
            flip_at in any::<prop::sample::Index>(),
            flip_to in prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b'$'), Just(b'*'), Just(b'+'), Just(b'-'),
                Just(b'0'), Just(b'9'), any::<u8>(),
            ],
            delete in any::<bool>(),
            max_inline_len in prop_oneof![Just(64 * 1024), 1usize..8],
        ) {
            let mut wire = BytesMut::new();
            for request in &requests {
                encode_request(request, &mut wire);
            }
            let at = flip_at.index(wire.len());
            if delete {
                let tail = wire.split_off(at + 1);
                wire.truncate(at);
                wire.unsplit(tail);
            } else {
                wire[at] = flip_to;
            }
            let limits = ParseLimits { max_inline_len, ..ParseLimits::default() };

            let mut at_once = RequestParser::new(limits);
            let mut buf = wire.clone();
            let mut whole = Vec::new();
            let whole_end = loop {
                match at_once.next_request(&mut buf) {
                    Ok(Some(request)) => whole.push(request),
                    Ok(None) => break Ok(buf.len()),
                    Err(error) => break Err(error),
                }
            };

            let mut bytewise = RequestParser::new(limits);
            let mut buf = BytesMut::new();
            let mut piecewise = Vec::new();
            let mut piecewise_end = Ok(0);
            'feed: for &byte in wire.iter() {
                buf.extend_from_slice(&[byte]);
                loop {
                    match bytewise.next_request(&mut buf) {
                        Ok(Some(request)) => piecewise.push(request),
                        Ok(None) => break,
                        Err(error) => {
                            piecewise_end = Err(error);
                            break 'feed;
                        }
                    }
                }
            }
            if piecewise_end.is_ok() {
                piecewise_end = Ok(buf.len());
            }
            prop_assert_eq!(whole, piecewise);
            match (whole_end, piecewise_end) {
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                // A request left incomplete: the general path holds what it consumed in its
                // own state, so only "both wait for more" is comparable.
                (Ok(_), Ok(_)) => {}
                (a, b) => prop_assert!(false, "at once {:?}, byte by byte {:?}", a, b),
            }
        }
    }
}
