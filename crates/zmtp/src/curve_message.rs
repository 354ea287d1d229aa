//! CURVE MESSAGE commands (RFC 26): every frame after the handshake, sealed and opened.
//!
//! A MESSAGE body is the name, an 8-byte nonce counter, the 16-byte tag and the box of a flags
//! byte (0x01 MORE, 0x02 COMMAND) plus the frame's bytes. The box is RFC 26's
//! XSalsa20-Poly1305 ([`crate::message_box`]), or AES-256-GCM between our own peers that both
//! offered it ([`crate::message_cipher`] picks, docs/wire.md §1.1). Between our own peers two
//! flags RFC 26 reserves are used too, once both sides advertised them: 0x04 for a whole
//! multipart message in one box and 0x08 for a batch of messages ([`crate::packed`]). The
//! handshakes that produce the keys are in [`crate::curve`].

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Result, ZmtpError};
use crate::frame::{encode_frame_header, Command, Frame};
use crate::message_box::TAG_LEN;
use crate::message_cipher::{CipherKind, MessageCipher};
use crate::packed;

/// The big-endian nonce counter at `at` in `raw` (0 when `raw` is too short; callers check
/// lengths first).
pub(crate) fn counter_at(raw: &[u8], at: usize) -> u64 {
    let mut counter = [0u8; 8];
    if let Some(src) = raw.get(at..at + 8) {
        counter.copy_from_slice(src);
    }
    u64::from_be_bytes(counter)
}

/// Bytes of a MESSAGE command body before the box: name length, "MESSAGE", nonce counter.
const MESSAGE_HEAD_LEN: usize = 16;

/// Encrypts outgoing frames into MESSAGE commands.
pub struct MessageSealer {
    cipher: MessageCipher,
    next_nonce: u64,
    packed: bool,
    /// Messages go out in batch boxes ([`crate::packed`], negotiated with packing).
    batching: bool,
    /// Plaintext of the batch being gathered; sealed by [`MessageSealer::finish_batch`].
    batch: BytesMut,
}

impl MessageSealer {
    pub(crate) fn new(cipher: MessageCipher, next_nonce: u64) -> Self {
        MessageSealer {
            cipher,
            next_nonce,
            packed: false,
            batching: false,
            batch: BytesMut::new(),
        }
    }

    /// The AEAD of our boxes ([`crate::message_cipher`]).
    pub fn cipher(&self) -> CipherKind {
        self.cipher.kind()
    }

    /// Whether multipart messages go out packed in one box ([`crate::packed`]).
    pub fn packed(&self) -> bool {
        self.packed
    }

    /// Turns packing on (only when the peer advertised it) or off.
    pub fn set_packed(&mut self, packed: bool) {
        self.packed = packed;
    }

    /// Turns batches of messages on (only when the peer advertised them) or off. Callers must
    /// then call [`MessageSealer::finish_batch`] before writing out what they queued.
    pub fn set_batching(&mut self, batching: bool) {
        self.batching = batching;
    }

    /// Plaintext bytes gathered for the next batch box and not yet in any output buffer.
    pub fn batched(&self) -> usize {
        self.batch.len()
    }

    /// Seals the messages gathered since the last call into one batch box appended to `out`.
    pub fn finish_batch(&mut self, out: &mut BytesMut) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let sealed = self.queue_box(out, packed::FLAG_BATCH, batch.len(), |buf| {
            buf.extend_from_slice(&batch)
        });
        self.batch = batch;
        self.batch.clear();
        sealed
    }

    /// Adds a message to the batch being gathered, sealing the batch first when the message
    /// would make it longer than [`packed::BATCH_MAX`]. `false` (nothing done) for a message
    /// too long for any batch.
    fn gather(&mut self, parts: &[Bytes], out: &mut BytesMut) -> Result<bool> {
        let len = packed::packed_len(parts).max(packed::PART_OVERHEAD);
        if len > packed::BATCH_MAX {
            return Ok(false);
        }
        if self.batch.len() + len > packed::BATCH_MAX {
            self.finish_batch(out)?;
        }
        if parts.is_empty() {
            // ZMTP has no zero-part messages: one empty part, as when not batching.
            packed::encode(&[Bytes::new()], &mut self.batch);
        } else {
            packed::encode(parts, &mut self.batch);
        }
        Ok(true)
    }

    fn take_nonce(&mut self) -> Result<u64> {
        let counter = self.next_nonce;
        self.next_nonce = counter
            .checked_add(1)
            .ok_or_else(|| ZmtpError::protocol("CURVE nonce space exhausted; reconnect"))?;
        Ok(counter)
    }

    /// Appends a MESSAGE command body (name, nonce, tag, box of `flags` + payload) to `out`;
    /// `fill` appends exactly `payload_len` plaintext bytes, which are then encrypted in place.
    fn seal_body(
        &mut self,
        out: &mut BytesMut,
        flags: u8,
        payload_len: usize,
        fill: impl FnOnce(&mut BytesMut),
    ) -> Result<()> {
        let counter = self.take_nonce()?;
        out.reserve(MESSAGE_HEAD_LEN + TAG_LEN + 1 + payload_len);
        out.put_u8(7);
        out.extend_from_slice(b"MESSAGE");
        out.put_u64(counter);
        let tag_at = out.len();
        out.extend_from_slice(&[0u8; TAG_LEN]);
        let plain_at = out.len();
        out.put_u8(flags);
        fill(out);
        debug_assert_eq!(out.len() - plain_at, 1 + payload_len);
        let tag = self.cipher.seal(counter, &mut out[plain_at..]);
        let tag = match tag {
            Ok(tag) => tag,
            Err(err) => {
                // No plaintext stays in the output buffer.
                out.truncate(tag_at - MESSAGE_HEAD_LEN);
                return Err(err);
            }
        };
        out[tag_at..plain_at].copy_from_slice(&tag);
        Ok(())
    }

    /// Appends one whole wire frame: a MESSAGE carrying `flags` + the payload `fill` writes.
    fn queue_box(
        &mut self,
        out: &mut BytesMut,
        flags: u8,
        payload_len: usize,
        fill: impl FnOnce(&mut BytesMut),
    ) -> Result<()> {
        let body_len = MESSAGE_HEAD_LEN + TAG_LEN + 1 + payload_len;
        let start = out.len();
        // libzmq sends MESSAGE as a plain data frame (no COMMAND flag); so do we.
        encode_frame_header(out, false, false, body_len);
        let sealed = self.seal_body(out, flags, payload_len, fill);
        if sealed.is_err() {
            out.truncate(start);
        }
        sealed
    }

    /// Appends the wire frame(s) of a multipart message to `out`: one packed box when packing
    /// is on and the message has several parts, else one box per part.
    pub fn queue_message(&mut self, parts: &[Bytes], out: &mut BytesMut) -> Result<()> {
        if self.batching {
            if self.gather(parts, out)? {
                return Ok(());
            }
            // Too long for a batch: in a box of its own, after the messages queued before it.
            self.finish_batch(out)?;
        }
        if self.packed && packed::worth_packing(parts) {
            let len = packed::packed_len(parts);
            return self.queue_box(out, packed::FLAG_PACKED, len, |buf| {
                packed::encode(parts, buf)
            });
        }
        if parts.is_empty() {
            return self.queue_box(out, 0, 0, |_| {});
        }
        let last = parts.len() - 1;
        for (i, part) in parts.iter().enumerate() {
            let flags = u8::from(i < last);
            self.queue_box(out, flags, part.len(), |buf| buf.extend_from_slice(part))?;
        }
        Ok(())
    }

    /// Appends the wire frame of a command (PING, PONG) to `out`.
    pub fn queue_command(&mut self, cmd: &Command, out: &mut BytesMut) -> Result<()> {
        // In the order queued: the messages gathered so far go first.
        self.finish_batch(out)?;
        let encoded = cmd.encode();
        self.queue_box(out, 0x02, encoded.len(), |buf| {
            buf.extend_from_slice(&encoded)
        })
    }

    /// Wraps one frame (part or command) into an encrypted MESSAGE command frame.
    pub fn seal(&mut self, frame: &Frame) -> Result<Frame> {
        let flags = u8::from(frame.more) | (u8::from(frame.command) << 1);
        self.seal_payload(flags, &frame.body)
    }

    /// Seals an arbitrary MESSAGE flags byte and payload into a MESSAGE frame. Meant for tests
    /// and tools that must produce boxes [`MessageSealer::seal`] would not (e.g. malformed
    /// packed payloads).
    pub fn seal_payload(&mut self, flags: u8, payload: &[u8]) -> Result<Frame> {
        let mut body = BytesMut::with_capacity(MESSAGE_HEAD_LEN + TAG_LEN + 1 + payload.len());
        self.seal_body(&mut body, flags, payload.len(), |buf| {
            buf.extend_from_slice(payload)
        })?;
        Ok(Frame {
            more: false,
            command: false,
            body: body.freeze(),
        })
    }
}

/// What one incoming MESSAGE box held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// One frame (a message part or a command), as RFC 26 sends them.
    Frame(Frame),
    /// A whole multipart message from a packed box ([`crate::packed`]).
    Message(Vec<Bytes>),
    /// One or more whole messages from a batch box ([`crate::packed`]), in order.
    Batch(Vec<Vec<Bytes>>),
}

/// Decrypts incoming MESSAGE commands back into frames.
pub struct MessageOpener {
    cipher: MessageCipher,
    last_nonce: u64,
    packed: bool,
    batching: bool,
}

impl MessageOpener {
    pub(crate) fn new(cipher: MessageCipher, last_nonce: u64) -> Self {
        MessageOpener {
            cipher,
            last_nonce,
            packed: false,
            batching: false,
        }
    }

    /// The AEAD of the peer's boxes ([`crate::message_cipher`]).
    pub fn cipher(&self) -> CipherKind {
        self.cipher.kind()
    }

    /// Accepts packed boxes (only when both sides advertised packing) or refuses them.
    pub fn set_packed(&mut self, packed: bool) {
        self.packed = packed;
    }

    /// Accepts batch boxes (only when both sides advertised them) or refuses them.
    pub fn set_batching(&mut self, batching: bool) {
        self.batching = batching;
    }

    /// Unwraps a MESSAGE command; refuses replayed or reordered nonces and packed boxes.
    pub fn open(&mut self, frame: Frame) -> Result<Frame> {
        match self.open_box(frame, false, 0)? {
            Opened::Frame(frame) => Ok(frame),
            Opened::Message(_) | Opened::Batch(_) => {
                Err(ZmtpError::protocol("unexpected packed CURVE MESSAGE"))
            }
        }
    }

    /// Unwraps a MESSAGE command, which may be a packed box of up to `max_parts` parts when
    /// packing was negotiated, or a batch of messages of up to `max_parts` parts each when
    /// batches were.
    pub fn open_any(&mut self, frame: Frame, max_parts: usize) -> Result<Opened> {
        let packed = self.packed;
        self.open_box(frame, packed, max_parts)
    }

    fn open_box(&mut self, frame: Frame, packed_ok: bool, max_parts: usize) -> Result<Opened> {
        let batch_ok = packed_ok && self.batching;
        let body = frame.body;
        if !body.starts_with(b"\x07MESSAGE") {
            let cmd = Command::decode(body)?;
            if cmd.is("ERROR") {
                return Err(ZmtpError::Refused {
                    reason: cmd.error_reason(),
                });
            }
            return Err(ZmtpError::protocol("expected a CURVE MESSAGE command"));
        }
        if body.len() < MESSAGE_HEAD_LEN + TAG_LEN + 1 {
            return Err(ZmtpError::protocol("CURVE MESSAGE too short"));
        }
        let counter = counter_at(&body, 8);
        if counter <= self.last_nonce {
            return Err(ZmtpError::protocol("CURVE MESSAGE nonce is not increasing"));
        }
        let tag_end = MESSAGE_HEAD_LEN + TAG_LEN;
        let mut plain = BytesMut::from(&body[tag_end..]);
        if !self
            .cipher
            .open(counter, &body[MESSAGE_HEAD_LEN..tag_end], &mut plain)
        {
            return Err(ZmtpError::protocol("CURVE MESSAGE failed authentication"));
        }
        self.last_nonce = counter;
        let flags = plain[0];
        let payload = plain.freeze().slice(1..);
        if packed_ok && flags == packed::FLAG_PACKED {
            return packed::decode(payload, max_parts).map(Opened::Message);
        }
        if batch_ok && flags == packed::FLAG_BATCH {
            return packed::decode_batch(payload, max_parts).map(Opened::Batch);
        }
        if flags & !0x03 != 0 {
            return Err(ZmtpError::protocol(
                if flags & (packed::FLAG_PACKED | packed::FLAG_BATCH) != 0 {
                    "packed CURVE MESSAGE, but packing was not negotiated"
                } else {
                    "CURVE MESSAGE has reserved flags set"
                },
            ));
        }
        Ok(Opened::Frame(Frame {
            more: flags & 0x01 != 0,
            command: flags & 0x02 != 0,
            body: payload,
        }))
    }
}
