//! The writer task shared by server and client connections.
//!
//! One task owns the sending half; everyone else (handler tasks, the read loop answering
//! PINGs, request submitters) queues [`Outgoing`] items on a bounded channel. The task drains
//! whatever is queued before each flush, so many small replies leave in one write.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

use crate::connection::MessageWriter;
use crate::error::Result;
use crate::frame::Command;

/// Stop batching once this many bytes are queued, so one flush is not unboundedly large.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Something to send on a connection.
#[derive(Debug)]
pub enum Outgoing {
    /// A multipart message.
    Message(Vec<Bytes>),
    /// A command (PING, PONG).
    Command(Command),
}

/// Heartbeat settings: PING the peer when idle and drop it when it stays silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Send a PING after this long without sending anything.
    pub interval: Duration,
    /// Close the connection after this long without receiving anything.
    pub timeout: Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
        }
    }
}

impl Heartbeat {
    /// The PING command for this heartbeat (TTL = timeout, in deciseconds).
    pub fn ping(&self) -> Command {
        let ttl = u16::try_from(self.timeout.as_millis() / 100).unwrap_or(u16::MAX);
        Command::ping(ttl, b"")
    }
}

fn queue<W: AsyncWrite + Unpin>(writer: &mut MessageWriter<W>, item: Outgoing) -> Result<()> {
    match item {
        Outgoing::Message(parts) => writer.queue_message(&parts),
        Outgoing::Command(cmd) => writer.queue_command(&cmd),
    }
}

/// Queues what is already waiting in `items`, up to [`FLUSH_THRESHOLD`] bytes pending.
fn take_queued<W: AsyncWrite + Unpin>(
    writer: &mut MessageWriter<W>,
    items: &mut mpsc::Receiver<Outgoing>,
) -> Result<()> {
    while writer.pending() < FLUSH_THRESHOLD {
        match items.try_recv() {
            Ok(item) => queue(writer, item)?,
            Err(_) => break,
        }
    }
    Ok(())
}

/// Writes queued items until the channel closes or the socket fails; then closes the socket.
pub async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: MessageWriter<W>,
    mut items: mpsc::Receiver<Outgoing>,
) -> Result<()> {
    let outcome = async {
        while let Some(item) = items.recv().await {
            queue(&mut writer, item)?;
            take_queued(&mut writer, &mut items)?;
            if writer.pending() < FLUSH_THRESHOLD {
                // Let the other ready tasks (requests being answered, writes being replicated)
                // queue theirs first: tokio runs a yielded task after them, so one flush (one
                // wake-up of the peer, the costly part of a small send) carries them all.
                tokio::task::yield_now().await;
                take_queued(&mut writer, &mut items)?;
            }
            writer.flush().await?;
        }
        Ok(())
    }
    .await;
    writer.close().await;
    outcome
}
