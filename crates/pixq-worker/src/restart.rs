//! [`Delayed`]: an apalis backend that waits before its worker starts.
//!
//! An apalis-redis worker dies on any backend error (a Redis restart, a Lua error;
//! APALIS-NOTES 4), and `Monitor::should_restart` restarts it at once, synchronously: with
//! Redis down it would spin. The restart delay therefore lives in the backend: the first
//! `poll_ready` of a restarted worker (which registers it in Redis) waits first. apalis's own
//! `before_start` hook cannot be used: its wrapper does not implement `BackendConfig`, so no
//! worker can be built on it (apalis-core 1.0.0).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::{Backend, BackendConfig, WireFormatBackend};
use apalis_core::worker::context::WorkerContext;
use tokio::time::Sleep;

/// `backend`, whose first `poll_ready` waits `delay`.
#[derive(Debug)]
pub(crate) struct Delayed<B> {
    backend: B,
    delay: Option<Pin<Box<Sleep>>>,
}

impl<B> Delayed<B> {
    /// Wraps `backend`; no delay when `delay` is zero.
    pub(crate) fn new(backend: B, delay: Duration) -> Self {
        Delayed {
            backend,
            delay: (!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay))),
        }
    }
}

impl<B: Backend> Backend for Delayed<B> {
    type Task = B::Task;
    type Error = B::Error;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        if let Some(delay) = self.delay.as_mut() {
            if delay.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.delay = None;
        }
        self.backend.poll_ready(cx, worker)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        self.backend.poll_next(cx, worker)
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.backend.poll_close(cx, worker)
    }
}

impl<B: BackendConfig> BackendConfig for Delayed<B> {
    type Args = B::Args;
    type Id = B::Id;
    type Kind = B::Kind;
    type Config = B::Config;
    type Layer = B::Layer;

    fn config(&self) -> &Self::Config {
        self.backend.config()
    }

    fn middleware(&mut self, worker: &mut WorkerContext) -> Self::Layer {
        self.backend.middleware(worker)
    }
}

impl<B: WireFormatBackend> WireFormatBackend for Delayed<B> {
    type Codec = B::Codec;
    type Compact = B::Compact;

    fn codec(&self) -> &Self::Codec {
        self.backend.codec()
    }
}
