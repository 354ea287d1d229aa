//! An established ZMTP connection that reads and writes whole multipart messages.
//!
//! [`Connection::establish`] runs the greeting and security handshake under a timeout. After
//! that the connection can be used as one object ([`Connection::recv`] answers PINGs itself) or
//! split into a [`MessageReader`] and a [`MessageWriter`] for full-duplex use from two tasks,
//! which is what the server and client do.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use crate::curve_message::Opened;
use crate::error::{Result, ZmtpError};
use crate::frame::Command;
use crate::handshake::{self, PeerInfo};
use crate::limits::MAX_PARTS;
use crate::security::{Opener, Sealer, Security};
use crate::wire::{FrameReader, FrameWriter};

/// Settings for one connection.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    /// Security mechanism and keys.
    pub security: Security,
    /// Our ZMQ socket type sent in metadata (`ROUTER`, `DEALER`, ...).
    pub socket_type: &'static str,
    /// Optional Identity property (routing id) sent in metadata.
    pub identity: Option<Bytes>,
    /// The whole greeting and handshake must finish within this time.
    pub handshake_timeout: Duration,
    /// Largest message (sum of part sizes) accepted from the peer, in bytes.
    pub max_message_size: usize,
    /// Offer packed parts (one CURVE box per multipart message, [`crate::packed`]); used only
    /// when the peer offers it too. No effect on NULL connections.
    pub pack_parts: bool,
    /// Offer AES-256-GCM MESSAGE boxes (docs/wire.md §1.1) when this CPU has AES-NI; used only
    /// when the peer offers it too, else RFC 26's XSalsa20-Poly1305. No effect on NULL.
    pub aes_gcm: bool,
}

impl ConnectionConfig {
    /// NULL security, the given socket type, 10 s handshake timeout, 64 MiB max message,
    /// packed parts and AES-256-GCM offered.
    pub fn new(socket_type: &'static str) -> Self {
        ConnectionConfig {
            security: Security::Null,
            socket_type,
            identity: None,
            handshake_timeout: Duration::from_secs(10),
            max_message_size: 64 * 1024 * 1024,
            pack_parts: true,
            aes_gcm: true,
        }
    }
}

/// Something received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A whole multipart message.
    Message(Vec<Bytes>),
    /// A PING; answer with [`Command::pong_for`] of this body.
    Ping(Bytes),
    /// A PONG answering one of our PINGs, with the context we sent.
    Pong(Bytes),
}

/// Receiving half of a connection.
pub struct MessageReader<R> {
    frames: FrameReader<R>,
    opener: Opener,
    max_message_size: usize,
    parts: Vec<Bytes>,
    size: usize,
    /// Messages of a batch box ([`crate::packed`]) not yet returned by `recv`.
    batched: VecDeque<Vec<Bytes>>,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Receives the next message, PING or PONG. Unknown commands are skipped.
    ///
    /// Cancel-safe: partial frames and parts stay buffered if the future is dropped.
    pub async fn recv(&mut self) -> Result<Inbound> {
        if let Some(parts) = self.batched.pop_front() {
            return Ok(Inbound::Message(parts));
        }
        loop {
            let wire = self.frames.read_frame().await?;
            let frame = match self.opener.open_any(wire, MAX_PARTS)? {
                Opened::Frame(frame) => frame,
                Opened::Message(parts) => {
                    self.check_whole(&parts)?;
                    return Ok(Inbound::Message(parts));
                }
                Opened::Batch(messages) => {
                    for parts in &messages {
                        self.check_whole(parts)?;
                    }
                    self.batched.extend(messages);
                    match self.batched.pop_front() {
                        Some(parts) => return Ok(Inbound::Message(parts)),
                        None => continue,
                    }
                }
            };
            if frame.command {
                if !self.parts.is_empty() {
                    return Err(ZmtpError::protocol("command inside a multipart message"));
                }
                let cmd = Command::decode(frame.body)?;
                if cmd.is("PING") {
                    return Ok(Inbound::Ping(cmd.body));
                }
                if cmd.is("PONG") {
                    return Ok(Inbound::Pong(cmd.body));
                }
                if cmd.is("ERROR") {
                    return Err(ZmtpError::Refused {
                        reason: cmd.error_reason(),
                    });
                }
                tracing::trace!(name = ?cmd.name, "skipping command");
                continue;
            }
            self.size += frame.body.len();
            if self.size > self.max_message_size {
                let size = self.size as u64;
                self.parts.clear();
                self.size = 0;
                return Err(ZmtpError::TooLarge {
                    size,
                    max: self.max_message_size as u64,
                });
            }
            self.parts.push(frame.body);
            if self.parts.len() > MAX_PARTS {
                return Err(ZmtpError::protocol(format!(
                    "message has more than {MAX_PARTS} parts"
                )));
            }
            if !frame.more {
                self.size = 0;
                return Ok(Inbound::Message(std::mem::take(&mut self.parts)));
            }
        }
    }
}

impl<R> MessageReader<R> {
    /// Checks a whole message that arrived in one packed or batch box: it must not interrupt
    /// a multipart message and must respect the size limit.
    fn check_whole(&self, parts: &[Bytes]) -> Result<()> {
        if !self.parts.is_empty() {
            return Err(ZmtpError::protocol(
                "packed message inside a multipart message",
            ));
        }
        let size: usize = parts.iter().map(Bytes::len).sum();
        if size > self.max_message_size {
            return Err(ZmtpError::TooLarge {
                size: size as u64,
                max: self.max_message_size as u64,
            });
        }
        Ok(())
    }
}

/// Sending half of a connection. Queue messages, then `flush` to write them in one go.
pub struct MessageWriter<W> {
    frames: FrameWriter<W>,
    sealer: Sealer,
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    /// Queues a multipart message. An empty `parts` is sent as one empty part
    /// (ZMTP has no zero-part messages).
    pub fn queue_message(&mut self, parts: &[Bytes]) -> Result<()> {
        self.sealer.queue_message(parts, self.frames.queue_buffer())
    }

    /// Queues a command (PING, PONG, ...).
    pub fn queue_command(&mut self, cmd: &Command) -> Result<()> {
        self.sealer.queue_command(cmd, self.frames.queue_buffer())
    }

    /// Bytes queued and not yet written (including messages gathered for a CURVE batch box).
    pub fn pending(&self) -> usize {
        self.frames.pending() + self.sealer.batched()
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        self.sealer.finish_batch(self.frames.queue_buffer())?;
        self.frames.flush().await
    }

    /// Queues and writes one message.
    pub async fn send(&mut self, parts: &[Bytes]) -> Result<()> {
        self.queue_message(parts)?;
        self.flush().await
    }

    /// Flushes and shuts the write side down (best effort).
    pub async fn close(&mut self) {
        if let Err(err) = self.sealer.finish_batch(self.frames.queue_buffer()) {
            tracing::debug!(%err, "messages gathered for a batch are dropped at close");
        }
        self.frames.shutdown().await;
    }
}

/// An established connection: both halves plus what we learned about the peer.
pub struct Connection<R, W> {
    /// Receiving half.
    pub reader: MessageReader<R>,
    /// Sending half.
    pub writer: MessageWriter<W>,
    /// The peer's greeting and metadata.
    pub peer: PeerInfo,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<ReadHalf<S>, WriteHalf<S>> {
    /// Handshakes over a single duplex stream (split internally).
    pub async fn over(stream: S, config: &ConnectionConfig) -> Result<Self> {
        let (r, w) = tokio::io::split(stream);
        Connection::establish(r, w, config).await
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Connection<R, W> {
    /// Runs greeting and handshake over the two halves of a stream, bounded by
    /// `config.handshake_timeout` ([`ZmtpError::Timeout`] when exceeded).
    pub async fn establish(read: R, write: W, config: &ConnectionConfig) -> Result<Self> {
        let max_frame = config.max_message_size as u64 + 64;
        let mut frames_in = FrameReader::new(read, max_frame);
        let mut frames_out = FrameWriter::new(write);
        let setup = handshake::run(
            &mut frames_in,
            &mut frames_out,
            &config.security,
            config.socket_type,
            config.identity.as_ref(),
            handshake::Offers {
                pack_parts: config.pack_parts,
                aes_gcm: config.aes_gcm,
            },
        );
        let (peer, sealer, opener) = tokio::time::timeout(config.handshake_timeout, setup)
            .await
            .map_err(|_| ZmtpError::Timeout {
                operation: "handshake",
            })?
            .map_err(|err| match err {
                ZmtpError::Closed => ZmtpError::handshake(
                    "peer closed the connection during the handshake \
                     (wrong CURVE server key, mechanism mismatch or peer refused us)",
                ),
                other => other,
            })?;
        frames_in.set_max_frame(config.max_message_size as u64 + opener.overhead());
        Ok(Connection {
            reader: MessageReader {
                frames: frames_in,
                opener,
                max_message_size: config.max_message_size,
                parts: Vec::new(),
                size: 0,
                batched: VecDeque::new(),
            },
            writer: MessageWriter {
                frames: frames_out,
                sealer,
            },
            peer,
        })
    }

    /// Sends one multipart message.
    pub async fn send(&mut self, parts: &[Bytes]) -> Result<()> {
        self.writer.send(parts).await
    }

    /// Receives the next message, answering PINGs and skipping PONGs on the way.
    pub async fn recv(&mut self) -> Result<Vec<Bytes>> {
        loop {
            match self.reader.recv().await? {
                Inbound::Message(parts) => return Ok(parts),
                Inbound::Ping(body) => {
                    self.writer.queue_command(&Command::pong_for(&body))?;
                    self.writer.flush().await?;
                }
                Inbound::Pong(_) => {}
            }
        }
    }

    /// Sends a PING (ZMTP 3.1 peers only; a no-op towards 3.0 peers).
    pub async fn ping(&mut self, ttl: Duration, context: &[u8]) -> Result<()> {
        if !self.peer.greeting.supports_heartbeat() {
            return Ok(());
        }
        let ttl = u16::try_from(ttl.as_millis() / 100).unwrap_or(u16::MAX);
        self.writer.queue_command(&Command::ping(ttl, context))?;
        self.writer.flush().await
    }

    /// Splits into independently usable halves.
    pub fn into_parts(self) -> (MessageReader<R>, MessageWriter<W>, PeerInfo) {
        (self.reader, self.writer, self.peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use std::collections::HashSet;
    use std::sync::Arc;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    async fn pair(
        client: ConnectionConfig,
        server: ConnectionConfig,
    ) -> (
        Result<Connection<ReadHalf<tokio::io::DuplexStream>, WriteHalf<tokio::io::DuplexStream>>>,
        Result<Connection<ReadHalf<tokio::io::DuplexStream>, WriteHalf<tokio::io::DuplexStream>>>,
    ) {
        let (a, b) = duplex(1 << 16);
        tokio::join!(Connection::over(a, &client), Connection::over(b, &server))
    }

    #[tokio::test]
    async fn null_message_and_ping() {
        let (c, s) = pair(
            ConnectionConfig::new("DEALER"),
            ConnectionConfig::new("ROUTER"),
        )
        .await;
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        assert_eq!(s.peer.socket_type().as_deref(), Some("DEALER"));
        c.send(&[
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::from_static(b"b"),
        ])
        .await
        .unwrap();
        let got = s.recv().await.unwrap();
        assert_eq!(
            got,
            vec![
                Bytes::from_static(b"a"),
                Bytes::new(),
                Bytes::from_static(b"b")
            ]
        );

        // PING from the client is answered by the server's recv loop with a PONG, which the
        // client's reader skips; a following message proves the stream stayed in sync.
        c.ping(Duration::from_secs(3), b"ctx").await.unwrap();
        let server = tokio::spawn(async move {
            let msg = s.recv().await.unwrap();
            s.send(&msg).await.unwrap();
            s
        });
        c.send(&[Bytes::from_static(b"after-ping")]).await.unwrap();
        assert_eq!(
            c.recv().await.unwrap(),
            vec![Bytes::from_static(b"after-ping")]
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn curve_round_trip_and_allowlist() {
        let server_keys = KeyPair::generate();
        let client_keys = KeyPair::generate();
        let mut server_cfg = ConnectionConfig::new("ROUTER");
        server_cfg.security = Security::CurveServer {
            secret: server_keys.secret.clone(),
            allowlist: Some(Arc::new(HashSet::from([client_keys.public]))),
        };
        let mut client_cfg = ConnectionConfig::new("DEALER");
        client_cfg.security = Security::CurveClient {
            keys: client_keys.clone(),
            server: server_keys.public,
        };
        let (c, s) = pair(client_cfg.clone(), server_cfg.clone()).await;
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        assert_eq!(s.peer.curve_key, Some(client_keys.public));
        let big = Bytes::from(vec![9u8; 100_000]);
        let msg = vec![Bytes::new(), big];
        let (sent, got) = tokio::join!(c.send(&msg), s.recv());
        sent.unwrap();
        assert_eq!(got.unwrap(), msg);
        s.send(&[Bytes::from_static(b"ok")]).await.unwrap();
        assert_eq!(c.recv().await.unwrap(), vec![Bytes::from_static(b"ok")]);

        // A stranger is refused with an ERROR command.
        client_cfg.security = Security::CurveClient {
            keys: KeyPair::generate(),
            server: server_keys.public,
        };
        let (c, s) = pair(client_cfg, server_cfg).await;
        assert!(matches!(c, Err(ZmtpError::Refused { .. })), "{:?}", c.err());
        assert!(matches!(s, Err(ZmtpError::Refused { .. })));
    }

    #[tokio::test]
    async fn mechanism_mismatch_fails() {
        let mut server_cfg = ConnectionConfig::new("ROUTER");
        server_cfg.security = Security::CurveServer {
            secret: KeyPair::generate().secret,
            allowlist: None,
        };
        let (c, s) = pair(ConnectionConfig::new("DEALER"), server_cfg).await;
        assert!(c.is_err());
        assert!(matches!(s, Err(ZmtpError::Handshake(_))));
    }

    #[tokio::test]
    async fn oversized_message_is_refused() {
        let mut server_cfg = ConnectionConfig::new("ROUTER");
        server_cfg.max_message_size = 1000;
        let (c, s) = pair(ConnectionConfig::new("DEALER"), server_cfg).await;
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        let writer = tokio::spawn(async move {
            let _ = c
                .send(&[Bytes::from(vec![0u8; 600]), Bytes::from(vec![0u8; 600])])
                .await;
            c
        });
        let err = s.recv().await.unwrap_err();
        assert!(
            matches!(err, ZmtpError::TooLarge { max: 1000, .. }),
            "{err:?}"
        );
        drop(s);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn silent_peer_times_out() {
        let (a, _b) = duplex(1024);
        let mut cfg = ConnectionConfig::new("ROUTER");
        cfg.handshake_timeout = Duration::from_millis(100);
        let err = Connection::over(a, &cfg).await.err().unwrap();
        assert!(matches!(
            err,
            ZmtpError::Timeout {
                operation: "handshake"
            }
        ));
    }

    #[tokio::test]
    async fn garbage_is_a_protocol_error() {
        let (a, mut b) = duplex(1024);
        let cfg = ConnectionConfig::new("ROUTER");
        let peer = tokio::spawn(async move {
            b.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let mut sink = Vec::new();
            let _ = b.read_to_end(&mut sink).await;
        });
        let err = Connection::over(a, &cfg).await.err().unwrap();
        assert!(matches!(err, ZmtpError::Protocol(_)), "{err:?}");
        peer.abort();
    }
}
