//! What the server keeps for each connection: the deadline for writing an answer, the scrape
//! slot held until the answer has been written, and the watch that notices a client that went
//! away while its scrape was running.

use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

/// Scrape slots whose answers have been handed to the connection but not yet written out; they
/// are let go when the connection has written everything it holds (see [`WriteDeadline`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct AfterWrite(Arc<Mutex<Vec<OwnedSemaphorePermit>>>);

impl AfterWrite {
    fn keep(&self, permit: OwnedSemaphorePermit) {
        self.slots().push(permit);
    }

    fn written(&self) {
        let released = std::mem::take(&mut *self.slots());
        drop(released);
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<OwnedSemaphorePermit>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A response body that holds a scrape slot. When hyper has taken the whole body (and drops
/// it), the slot moves to the connection's [`AfterWrite`], which lets it go once the bytes have
/// left for the client: a client that does not read keeps its slot, so at most
/// `--web.max-requests` answers wait in memory for slow readers.
#[derive(Debug)]
pub(crate) struct Answer {
    body: Full<Bytes>,
    slot: Option<(OwnedSemaphorePermit, AfterWrite)>,
}

impl Answer {
    /// A body that holds `slot` until it has been written on the connection of `after_write`.
    pub(crate) fn holding(
        body: Full<Bytes>,
        slot: Option<OwnedSemaphorePermit>,
        after_write: &AfterWrite,
    ) -> Self {
        Answer {
            body,
            slot: slot.map(|permit| (permit, after_write.clone())),
        }
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some((permit, after_write)) = self.slot.take() {
            after_write.keep(permit);
        }
    }
}

/// A connection's transport with a write deadline: once a write cannot proceed (the client is
/// not reading), everything pending must be written within the limit, or the connection fails
/// and is closed. A flush that completes (hyper flushes once its buffer is empty) ends the
/// stall and lets go of the slots in [`AfterWrite`]. Reads are not limited: an idle keep-alive
/// connection is not a stalled write.
pub(crate) struct WriteDeadline<I> {
    io: I,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    after_write: AfterWrite,
}

impl<I> WriteDeadline<I> {
    pub(crate) fn new(io: I, limit: Duration, after_write: AfterWrite) -> Self {
        WriteDeadline {
            io,
            limit,
            stalled: None,
            after_write,
        }
    }

    /// Called when a write or flush is pending: starts the deadline at the first stall, and
    /// fails once it has passed.
    fn stall<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let deadline = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client took more than {limit:?} to take the answer"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteDeadline<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending => this.stall(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.stall(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                this.stalled = None;
                this.after_write.written();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.stall(cx),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_shutdown(cx) {
            Poll::Pending => this.stall(cx),
            ready => ready,
        }
    }
}

/// Notices when the client closes or resets its side of the connection.
///
/// hyper drops a request's handler when the client closes mid-request, but only while no
/// unread bytes wait in its buffer: a client that sends one byte more after its request, then
/// leaves, would otherwise keep its scrape running to the end. The watch is a second descriptor
/// of the same socket, registered for reading on its own, so it sees the close (EPOLLRDHUP)
/// whatever hyper has read. It must not outlive the connection: the socket closes only when
/// both descriptors are gone.
#[derive(Debug)]
pub(crate) struct PeerWatch(Option<TcpStream>);

impl PeerWatch {
    /// Watches `socket`; without a spare descriptor, watches nothing (hyper's own detection of
    /// a close still applies).
    pub(crate) fn new(socket: &TcpStream) -> Self {
        let watch = socket
            .as_fd()
            .try_clone_to_owned()
            .and_then(|fd| TcpStream::from_std(std::net::TcpStream::from(fd)));
        match watch {
            Ok(fd) => PeerWatch(Some(fd)),
            Err(err) => {
                tracing::debug!(error = %err, "cannot watch the connection for the client leaving");
                PeerWatch(None)
            }
        }
    }

    /// Resolves once the client has shut down its side, or reset the connection.
    pub(crate) async fn gone(&self) {
        let Some(socket) = &self.0 else {
            return std::future::pending().await;
        };
        loop {
            let Ok(ready) = socket.ready(Interest::READABLE).await else {
                return std::future::pending().await;
            };
            if ready.is_read_closed() {
                return;
            }
            // Only data (a pipelined request), which is hyper's to read: forget this readiness
            // (of this descriptor only) and wait for the next event on the socket.
            let _ = socket.try_io(Interest::READABLE, || {
                Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Semaphore;

    #[tokio::test]
    async fn a_stalled_write_fails_after_the_limit() {
        let (near, _far) = tokio::io::duplex(64);
        let mut io = WriteDeadline::new(near, Duration::from_millis(100), AfterWrite::default());
        let started = tokio::time::Instant::now();
        let err = io.write_all(&[7u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_trickling_reader_does_not_restart_the_clock() {
        let (near, mut far) = tokio::io::duplex(64);
        let trickle = tokio::spawn(async move {
            let mut chunk = [0u8; 64];
            while far.read(&mut chunk).await.is_ok_and(|n| n > 0) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut io = WriteDeadline::new(near, Duration::from_millis(200), AfterWrite::default());
        let err = io.write_all(&[7u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(io);
        trickle.await.unwrap();
    }

    #[tokio::test]
    async fn a_write_that_never_waits_arms_nothing() {
        let (near, _far) = tokio::io::duplex(64);
        let mut io = WriteDeadline::new(near, Duration::from_secs(60), AfterWrite::default());
        io.write_all(&[1u8; 16]).await.unwrap();
        io.flush().await.unwrap();
        assert!(io.stalled.is_none());
    }

    #[tokio::test]
    async fn the_slot_is_let_go_once_the_answer_is_written() {
        let slots = Arc::new(Semaphore::new(1));
        let after_write = AfterWrite::default();
        let permit = slots.clone().try_acquire_owned().unwrap();
        let answer = Answer::holding(
            Full::new(Bytes::from_static(b"x")),
            Some(permit),
            &after_write,
        );
        assert_eq!(slots.available_permits(), 0);
        drop(answer); // hyper has taken the body: the slot waits for the bytes to leave
        assert_eq!(slots.available_permits(), 0);
        let (near, _far) = tokio::io::duplex(64);
        let mut io = WriteDeadline::new(near, Duration::from_secs(60), after_write);
        io.write_all(b"x").await.unwrap();
        assert_eq!(slots.available_permits(), 0);
        io.flush().await.unwrap();
        assert_eq!(slots.available_permits(), 1);
    }
}
