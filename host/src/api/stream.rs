//! Streamed response bodies: blocking work writes into a [`ChannelWriter`], and the
//! bytes reach the client through a small bounded channel, so a slow client slows the
//! producer down instead of filling memory.

use crate::app::{AppError, AppResult};
use axum::body::{Body, Bytes};
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A `Write` that sends what is written, in chunks, to an async response body.
pub(crate) struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

/// How many bytes a body chunk holds before it is sent.
const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The receiving end, as a stream of body chunks.
struct ChunkStream(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

/// A response body fed by `produce`, which runs on a blocking thread and writes into the
/// given writer. If it fails midway, the body ends early (the error is logged).
pub(crate) fn streamed_body(
    produce: impl FnOnce(&mut ChannelWriter) -> AppResult<u64> + Send + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        match produce(&mut writer).and_then(|n| {
            writer
                .flush()
                .map(|_| n)
                .map_err(|e| AppError::Internal(e.into()))
        }) {
            Ok(rows) => tracing::debug!(rows, "export finished"),
            Err(e) => tracing::warn!(error = %e, "export ended early"),
        }
    });
    Body::from_stream(ChunkStream(rx))
}
