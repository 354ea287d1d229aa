//! The write half of a client connection that never closes gracefully.
//!
//! Tokio's [`OwnedWriteHalf`] shuts the write direction down when dropped: the kernel queues a
//! FIN behind whatever it still holds and keeps retransmitting both. During a partition that is
//! a request whose caller has long been told it failed; after the heal it reaches the peer and
//! is applied then, stamped later than writes acknowledged meanwhile (docs/reliability.md,
//! fix 32). [`ResetWriteHalf`] forgets the half instead, so the stream closes only when the read
//! half goes too, and the zero linger set at connect turns that close into a reset that
//! discards what was unsent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio::net::tcp::OwnedWriteHalf;

/// An [`OwnedWriteHalf`] whose drop leaves the stream to the read half (see the module docs).
pub(crate) struct ResetWriteHalf(Option<OwnedWriteHalf>);

impl ResetWriteHalf {
    pub(crate) fn new(half: OwnedWriteHalf) -> ResetWriteHalf {
        ResetWriteHalf(Some(half))
    }

    fn half(&mut self) -> io::Result<Pin<&mut OwnedWriteHalf>> {
        self.0
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for ResetWriteHalf {
    fn drop(&mut self) {
        if let Some(half) = self.0.take() {
            half.forget();
        }
    }
}

impl AsyncWrite for ResetWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().half() {
            Ok(half) => half.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().half() {
            Ok(half) => half.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.0.as_ref().is_some_and(|h| h.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().half() {
            Ok(half) => half.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().half() {
            Ok(half) => half.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
