//! Pure ZMTP 3.x codec: greeting, frames, commands and metadata properties (RFC 23 / RFC 37).
//!
//! Nothing here does I/O, so every rule of the wire format can be unit- and property-tested
//! on plain byte buffers. The I/O layer (`wire.rs`) only moves bytes in and out of these functions.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{Result, ZmtpError};

/// Length of the ZMTP 3 greeting, in bytes.
pub const GREETING_LEN: usize = 64;
/// Frame flag: more frames of the same message follow.
pub const FLAG_MORE: u8 = 0x01;
/// Frame flag: the size field is 8 bytes long instead of 1.
pub const FLAG_LONG: u8 = 0x02;
/// Frame flag: the frame is a command, not a message part.
pub const FLAG_COMMAND: u8 = 0x04;

/// Largest buffer growth made on the word of a frame header alone.
const MAX_RESERVE_STEP: usize = 256 * 1024;

/// Security mechanism named in the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// No security (RFC 23 NULL).
    Null,
    /// CurveZMQ (RFC 26).
    Curve,
}

impl Mechanism {
    /// The mechanism name as written in the greeting.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Curve => "CURVE",
        }
    }

    fn from_field(field: &[u8]) -> Result<Self> {
        let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
        if field[end..].iter().any(|b| *b != 0) {
            return Err(ZmtpError::protocol("mechanism name is not zero padded"));
        }
        match &field[..end] {
            b"NULL" => Ok(Mechanism::Null),
            b"CURVE" => Ok(Mechanism::Curve),
            other => Err(ZmtpError::handshake(format!(
                "unsupported security mechanism {:?}",
                String::from_utf8_lossy(other)
            ))),
        }
    }
}

/// The 64-byte greeting each side sends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// Major protocol version (always 3 for peers we accept).
    pub major: u8,
    /// Minor protocol version (0 or 1; 1 adds PING/PONG).
    pub minor: u8,
    /// Security mechanism.
    pub mechanism: Mechanism,
    /// Whether the sender acts as the server of the security handshake.
    pub as_server: bool,
}

impl Greeting {
    /// Greeting for ZMTP 3.1 with the given mechanism and role.
    pub fn new(mechanism: Mechanism, as_server: bool) -> Self {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// Encodes the greeting into its 64 wire bytes.
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        out[0] = 0xFF;
        out[9] = 0x7F;
        out[10] = self.major;
        out[11] = self.minor;
        let name = self.mechanism.name().as_bytes();
        out[12..12 + name.len()].copy_from_slice(name);
        out[32] = u8::from(self.as_server);
        out
    }

    /// Decodes a peer's greeting. Accepts ZMTP 3.0 and later 3.x versions; refuses ZMTP 1/2.
    pub fn decode(raw: &[u8; GREETING_LEN]) -> Result<Self> {
        if raw[0] != 0xFF || raw[9] & 0x01 != 0x01 {
            return Err(ZmtpError::protocol(
                "bad greeting signature (not a ZMTP 3 peer)",
            ));
        }
        let major = raw[10];
        if major < 3 {
            return Err(ZmtpError::handshake(format!(
                "peer speaks ZMTP major version {major}; version 3 is required"
            )));
        }
        let mechanism = Mechanism::from_field(&raw[12..32])?;
        let as_server = match raw[32] {
            0 => false,
            1 => true,
            other => {
                return Err(ZmtpError::protocol(format!(
                    "greeting as-server byte must be 0 or 1, got {other}"
                )))
            }
        };
        Ok(Greeting {
            major,
            minor: raw[11],
            mechanism,
            as_server,
        })
    }

    /// Whether the peer understands PING/PONG (ZMTP 3.1+).
    pub fn supports_heartbeat(&self) -> bool {
        self.major > 3 || self.minor >= 1
    }
}

/// One ZMTP frame: a message part or a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// More parts of the same message follow (message frames only).
    pub more: bool,
    /// The frame is a command.
    pub command: bool,
    /// Frame body.
    pub body: Bytes,
}

impl Frame {
    /// A message part.
    pub fn part(body: Bytes, more: bool) -> Self {
        Frame {
            more,
            command: false,
            body,
        }
    }

    /// A command frame.
    pub fn command(cmd: &Command) -> Self {
        Frame {
            more: false,
            command: true,
            body: cmd.encode(),
        }
    }

    /// Bytes this frame takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let header = if self.body.len() > 255 { 9 } else { 2 };
        header + self.body.len()
    }

    /// Appends the frame (header and body) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        encode_frame_header(out, self.more, self.command, self.body.len());
        out.extend_from_slice(&self.body);
    }

    /// Decodes one frame from the front of `buf`, removing it.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole frame (read more and call again).
    /// Fails with [`ZmtpError::TooLarge`] as soon as the header announces a body over `max_body`,
    /// before any of it is buffered, so a peer cannot make us allocate huge buffers.
    pub fn decode(buf: &mut BytesMut, max_body: u64) -> Result<Option<Frame>> {
        let Some(&flags) = buf.first() else {
            return Ok(None);
        };
        if flags & !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0 {
            return Err(ZmtpError::protocol(format!(
                "frame flags {flags:#04x} have reserved bits set"
            )));
        }
        let command = flags & FLAG_COMMAND != 0;
        let more = flags & FLAG_MORE != 0;
        if command && more {
            return Err(ZmtpError::protocol("command frame with the MORE flag"));
        }
        let (header, size) = if flags & FLAG_LONG != 0 {
            if buf.len() < 9 {
                return Ok(None);
            }
            let mut size_bytes = [0u8; 8];
            size_bytes.copy_from_slice(&buf[1..9]);
            (9usize, u64::from_be_bytes(size_bytes))
        } else {
            if buf.len() < 2 {
                return Ok(None);
            }
            (2usize, u64::from(buf[1]))
        };
        if size > max_body {
            return Err(ZmtpError::TooLarge {
                size,
                max: max_body,
            });
        }
        let size = usize::try_from(size).map_err(|_| ZmtpError::TooLarge {
            size,
            max: max_body,
        })?;
        if buf.len() < header + size {
            // Grow towards the announced size in steps: a peer announcing a large frame must
            // actually send the bytes before we hold that much memory for it.
            buf.reserve((header + size - buf.len()).min(MAX_RESERVE_STEP));
            return Ok(None);
        }
        buf.advance(header);
        let body = buf.split_to(size).freeze();
        Ok(Some(Frame {
            more,
            command,
            body,
        }))
    }
}

/// Appends the header (flags and size) of a frame whose `len`-byte body the caller appends
/// next; lets writers put bodies straight into their output buffer.
pub fn encode_frame_header(out: &mut BytesMut, more: bool, command: bool, len: usize) {
    let mut flags = 0u8;
    if more {
        flags |= FLAG_MORE;
    }
    if command {
        flags |= FLAG_COMMAND;
    }
    if len > 255 {
        out.put_u8(flags | FLAG_LONG);
        out.put_u64(len as u64);
    } else {
        out.put_u8(flags);
        out.put_u8(len as u8);
    }
}

/// A ZMTP command: a short name and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Command name, e.g. `READY`, `PING`.
    pub name: Bytes,
    /// Command data following the name.
    pub body: Bytes,
}

impl Command {
    /// Builds a command from a name (at most 255 bytes) and data.
    pub fn new(name: &'static str, body: Bytes) -> Self {
        Command {
            name: Bytes::from_static(name.as_bytes()),
            body,
        }
    }

    /// Whether the command has this name.
    pub fn is(&self, name: &str) -> bool {
        self.name.as_ref() == name.as_bytes()
    }

    /// Encodes name length, name and data.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(1 + self.name.len() + self.body.len());
        out.put_u8(self.name.len().min(255) as u8);
        out.extend_from_slice(&self.name[..self.name.len().min(255)]);
        out.extend_from_slice(&self.body);
        out.freeze()
    }

    /// Decodes a command frame body.
    pub fn decode(mut raw: Bytes) -> Result<Self> {
        let Some(&len) = raw.first() else {
            return Err(ZmtpError::protocol("empty command frame"));
        };
        let len = usize::from(len);
        if raw.len() < 1 + len {
            return Err(ZmtpError::protocol("command name longer than the frame"));
        }
        raw.advance(1);
        let name = raw.split_to(len);
        Ok(Command { name, body: raw })
    }

    /// READY command carrying metadata properties.
    pub fn ready(properties: &[(String, Bytes)]) -> Self {
        Command::new("READY", encode_properties(properties))
    }

    /// ERROR command with a reason (truncated to 255 bytes).
    pub fn error(reason: &str) -> Self {
        let reason = &reason.as_bytes()[..reason.len().min(255)];
        let mut body = BytesMut::with_capacity(1 + reason.len());
        body.put_u8(reason.len() as u8);
        body.extend_from_slice(reason);
        Command::new("ERROR", body.freeze())
    }

    /// Reason text of an ERROR command body.
    pub fn error_reason(&self) -> String {
        let len = self.body.first().map(|l| usize::from(*l)).unwrap_or(0);
        let end = (1 + len).min(self.body.len());
        String::from_utf8_lossy(self.body.get(1..end).unwrap_or_default()).into_owned()
    }

    /// PING command with a time-to-live in deciseconds and a context echoed in the PONG.
    pub fn ping(ttl_deciseconds: u16, context: &[u8]) -> Self {
        let mut body = BytesMut::with_capacity(2 + context.len());
        body.put_u16(ttl_deciseconds);
        body.extend_from_slice(&context[..context.len().min(16)]);
        Command::new("PING", body.freeze())
    }

    /// PONG answering a PING whose command body was `ping_body`.
    pub fn pong_for(ping_body: &Bytes) -> Self {
        let context = if ping_body.len() > 2 {
            ping_body.slice(2..)
        } else {
            Bytes::new()
        };
        Command::new("PONG", context)
    }
}

/// Metadata properties of a READY/INITIATE command, in wire order.
pub type Metadata = Vec<(String, Bytes)>;

/// Encodes metadata properties: name-len(1) name value-len(4, big-endian) value.
pub fn encode_properties(properties: &[(String, Bytes)]) -> Bytes {
    let mut out = BytesMut::new();
    for (name, value) in properties {
        let name = &name.as_bytes()[..name.len().min(255)];
        out.put_u8(name.len() as u8);
        out.extend_from_slice(name);
        out.put_u32(value.len() as u32);
        out.extend_from_slice(value);
    }
    out.freeze()
}

/// Decodes metadata properties written by [`encode_properties`].
pub fn decode_properties(mut raw: Bytes) -> Result<Vec<(String, Bytes)>> {
    let mut properties = Vec::new();
    while raw.has_remaining() {
        let name_len = usize::from(raw.get_u8());
        if name_len == 0 || raw.len() < name_len + 4 {
            return Err(ZmtpError::protocol("malformed metadata property name"));
        }
        let name = raw.split_to(name_len);
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| ZmtpError::protocol("metadata property name is not UTF-8"))?;
        let value_len = raw.get_u32() as usize;
        if raw.len() < value_len {
            return Err(ZmtpError::protocol(
                "metadata property value longer than the command",
            ));
        }
        properties.push((name, raw.split_to(value_len)));
    }
    Ok(properties)
}

/// Looks up a property by case-insensitive name, as ZMTP property names are case-insensitive.
pub fn find_property<'a>(properties: &'a [(String, Bytes)], name: &str) -> Option<&'a Bytes> {
    properties
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn greeting_layout_matches_rfc() {
        let raw = Greeting::new(Mechanism::Curve, true).encode();
        assert_eq!(raw[0], 0xFF);
        assert!(raw[1..9].iter().all(|b| *b == 0));
        assert_eq!(raw[9], 0x7F);
        assert_eq!(&raw[10..12], &[3, 1]);
        assert_eq!(&raw[12..17], b"CURVE");
        assert!(raw[17..32].iter().all(|b| *b == 0));
        assert_eq!(raw[32], 1);
        assert!(raw[33..].iter().all(|b| *b == 0));
    }

    #[test]
    fn greeting_accepts_3_0_and_refuses_2() {
        let mut raw = Greeting::new(Mechanism::Null, false).encode();
        raw[11] = 0;
        let g = Greeting::decode(&raw).unwrap();
        assert_eq!((g.major, g.minor), (3, 0));
        assert!(!g.supports_heartbeat());
        raw[10] = 2;
        assert!(Greeting::decode(&raw).is_err());
    }

    #[test]
    fn greeting_refuses_unknown_mechanism_and_bad_signature() {
        let mut raw = Greeting::new(Mechanism::Null, false).encode();
        raw[12..16].copy_from_slice(b"PLAI");
        assert!(matches!(
            Greeting::decode(&raw),
            Err(ZmtpError::Handshake(_))
        ));
        let mut raw = Greeting::new(Mechanism::Null, false).encode();
        raw[0] = 0x00;
        assert!(matches!(
            Greeting::decode(&raw),
            Err(ZmtpError::Protocol(_))
        ));
    }

    #[test]
    fn short_and_long_frames() {
        let mut buf = BytesMut::new();
        Frame::part(Bytes::from_static(b"abc"), true).encode(&mut buf);
        assert_eq!(&buf[..], &[0x01, 3, b'a', b'b', b'c']);
        let big = Bytes::from(vec![7u8; 300]);
        let mut buf = BytesMut::new();
        Frame::part(big.clone(), false).encode(&mut buf);
        assert_eq!(buf[0], FLAG_LONG);
        assert_eq!(&buf[1..9], &300u64.to_be_bytes());
        let frame = Frame::decode(&mut buf, 1000).unwrap().unwrap();
        assert_eq!(frame.body, big);
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_frame_waits_for_more() {
        let mut full = BytesMut::new();
        Frame::part(Bytes::from_static(b"hello"), false).encode(&mut full);
        for cut in 0..full.len() {
            let mut partial = BytesMut::from(&full[..cut]);
            assert_eq!(Frame::decode(&mut partial, 100).unwrap(), None);
            assert_eq!(partial.len(), cut);
        }
    }

    #[test]
    fn oversized_frame_rejected_from_header_alone() {
        let mut buf = BytesMut::new();
        buf.put_u8(FLAG_LONG);
        buf.put_u64(u64::MAX);
        let err = Frame::decode(&mut buf, 1 << 20).unwrap_err();
        assert!(matches!(err, ZmtpError::TooLarge { size: u64::MAX, .. }));
    }

    #[test]
    fn reserved_flags_rejected() {
        let mut buf = BytesMut::from(&[0x80u8, 0][..]);
        assert!(Frame::decode(&mut buf, 10).is_err());
    }

    #[test]
    fn command_and_properties() {
        let props = vec![
            ("Socket-Type".to_string(), Bytes::from_static(b"ROUTER")),
            ("Identity".to_string(), Bytes::new()),
        ];
        let cmd = Command::ready(&props);
        let raw = cmd.encode();
        assert_eq!(&raw[..6], b"\x05READY");
        let back = Command::decode(raw).unwrap();
        assert!(back.is("READY"));
        let decoded = decode_properties(back.body).unwrap();
        assert_eq!(decoded, props);
        assert_eq!(
            find_property(&decoded, "socket-type").map(|b| &b[..]),
            Some(&b"ROUTER"[..])
        );
    }

    #[test]
    fn error_ping_pong() {
        let err = Command::error("not allowed");
        assert_eq!(err.error_reason(), "not allowed");
        let ping = Command::ping(30, b"ctx");
        assert_eq!(&ping.body[..], b"\x00\x1ectx");
        let pong = Command::pong_for(&ping.body);
        assert!(pong.is("PONG"));
        assert_eq!(&pong.body[..], b"ctx");
    }

    #[test]
    fn malformed_properties_rejected() {
        assert!(decode_properties(Bytes::from_static(b"\x05ab")).is_err());
        assert!(decode_properties(Bytes::from_static(b"\x01a\x00\x00\x00\x09xx")).is_err());
        assert!(Command::decode(Bytes::from_static(b"\x09RE")).is_err());
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        (
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(|(more, command, body)| Frame {
                more: more && !command,
                command,
                body: Bytes::from(body),
            })
    }

    proptest! {
        #[test]
        fn frames_round_trip(frames in proptest::collection::vec(arb_frame(), 0..8)) {
            let mut buf = BytesMut::new();
            for f in &frames {
                f.encode(&mut buf);
            }
            let mut decoded = Vec::new();
            while let Some(f) = Frame::decode(&mut buf, 1 << 20).unwrap() {
                decoded.push(f);
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(decoded, frames);
        }

        #[test]
        fn properties_round_trip(props in proptest::collection::vec(
            ("[A-Za-z-]{1,20}", proptest::collection::vec(any::<u8>(), 0..50)), 0..6)) {
            let props: Vec<(String, Bytes)> =
                props.into_iter().map(|(n, v)| (n, Bytes::from(v))).collect();
            let decoded = decode_properties(encode_properties(&props)).unwrap();
            prop_assert_eq!(decoded, props);
        }

        #[test]
        fn decoder_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut buf = BytesMut::from(&raw[..]);
            while let Ok(Some(f)) = Frame::decode(&mut buf, 1 << 16) {
                if f.command {
                    let _ = Command::decode(f.body).map(|c| decode_properties(c.body));
                }
            }
            if raw.len() >= GREETING_LEN {
                let mut g = [0u8; GREETING_LEN];
                g.copy_from_slice(&raw[..GREETING_LEN]);
                let _ = Greeting::decode(&g);
            }
        }
    }
}
