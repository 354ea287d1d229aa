//! The NULL security handshake (RFC 23): each side sends READY with its metadata and reads
//! the peer's READY. No authentication, no encryption.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Result, ZmtpError};
use crate::frame::{decode_properties, Command, Frame};
use crate::wire::{FrameReader, FrameWriter};

/// Runs the NULL handshake; returns the peer's metadata.
pub async fn handshake<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    metadata: &[(String, Bytes)],
) -> Result<Vec<(String, Bytes)>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    writer.queue_frame(&Frame::command(&Command::ready(metadata)));
    writer.flush().await?;
    let frame = reader.read_frame().await?;
    if !frame.command {
        return Err(ZmtpError::handshake("peer sent a message before READY"));
    }
    let cmd = Command::decode(frame.body)?;
    if cmd.is("ERROR") {
        return Err(ZmtpError::Refused {
            reason: cmd.error_reason(),
        });
    }
    if !cmd.is("READY") {
        return Err(ZmtpError::handshake(format!(
            "expected READY, got {:?}",
            String::from_utf8_lossy(&cmd.name)
        )));
    }
    decode_properties(cmd.body)
}
