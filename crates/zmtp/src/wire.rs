//! Buffered frame I/O over any tokio byte stream.
//!
//! The reader keeps undecoded bytes in its own buffer, so `read_frame` is cancel-safe: a
//! partially received frame stays buffered if the future is dropped. The writer batches
//! frames in memory and writes them with one syscall on `flush`.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Result, ZmtpError};
use crate::frame::{Frame, GREETING_LEN};

const READ_CHUNK: usize = 16 * 1024;

/// Reads greetings and frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    max_frame: u64,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps `inner`; frames whose body exceeds `max_frame` bytes are refused.
    pub fn new(inner: R, max_frame: u64) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_frame,
        }
    }

    /// Largest frame body currently accepted.
    pub fn max_frame(&self) -> u64 {
        self.max_frame
    }

    /// Changes the largest frame body accepted from now on.
    pub fn set_max_frame(&mut self, max_frame: u64) {
        self.max_frame = max_frame;
    }

    async fn fill(&mut self) -> Result<()> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_CHUNK);
        }
        let n = self.inner.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(ZmtpError::Closed);
        }
        Ok(())
    }

    /// Reads the peer's 64-byte greeting.
    pub async fn read_greeting(&mut self) -> Result<[u8; GREETING_LEN]> {
        while self.buf.len() < GREETING_LEN {
            // Fail fast on a peer that is clearly not ZMTP instead of waiting for 64 bytes.
            if self.buf.first().is_some_and(|b| *b != 0xFF) {
                return Err(ZmtpError::protocol(
                    "peer did not start with a ZMTP greeting",
                ));
            }
            self.fill().await?;
        }
        let raw = self.buf.split_to(GREETING_LEN);
        let mut greeting = [0u8; GREETING_LEN];
        greeting.copy_from_slice(&raw);
        Ok(greeting)
    }

    /// Reads one whole frame.
    pub async fn read_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(frame) = Frame::decode(&mut self.buf, self.max_frame)? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }
}

/// Writes greetings and frames to a byte stream, batching until `flush`.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    buf: BytesMut,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        FrameWriter {
            inner,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// Queues raw bytes (the greeting).
    pub fn queue_raw(&mut self, raw: &[u8]) {
        self.buf.extend_from_slice(raw);
    }

    /// Queues one frame.
    pub fn queue_frame(&mut self, frame: &Frame) {
        frame.encode(&mut self.buf);
    }

    /// The buffer of queued bytes, for encoders that write frames straight into it.
    pub fn queue_buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes queued but not yet written.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes everything queued and flushes the stream.
    pub async fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.inner.flush().await?;
        Ok(())
    }

    /// Shuts down the write side (best effort, used when closing).
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.inner.shutdown().await;
    }
}
