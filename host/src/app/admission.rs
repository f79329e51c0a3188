//! Admission control for events: at most the instance pool's size run at once, a
//! bounded number wait, and the rest are refused at once with [`AppError::Busy`] (the
//! API's `503` with `Retry-After`). Memory is bounded by what is admitted; nothing waits
//! without limit, and what is refused was not stored.

use super::{Airlock, AppError, AppResult};
use crate::dispatch::{DispatchResult, EventRequest};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// How many events may wait for a worker, by default, per worker.
pub const QUEUE_PER_WORKER: usize = 8;

/// The seconds a refused caller is told to wait before retrying.
pub const RETRY_AFTER_SECS: u32 = 1;

/// The two bounds: events admitted (running or waiting), and work running.
pub struct Admission {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
    capacity: usize,
}

impl Admission {
    /// `workers` pieces of work at once (the instance pool's size), and up to `queue`
    /// events waiting for them.
    pub fn new(workers: usize, queue: usize) -> Admission {
        let workers = workers.max(1);
        Admission {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            running: Arc::new(Semaphore::new(workers)),
            capacity: workers + queue,
        }
    }

    /// How many events may be admitted at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events are admitted now (running or waiting).
    pub fn in_flight(&self) -> usize {
        self.capacity - self.admitted.available_permits()
    }

    /// A worker, once one is free (waiting asynchronously); it is released when the
    /// permit is dropped.
    async fn worker(&self) -> AppResult<tokio::sync::OwnedSemaphorePermit> {
        self.running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("the worker pool is closed")))
    }

    /// Runs blocking work on the worker `permit` holds, on a thread that yields to the
    /// service's own threads ([`yield_to_the_service`]).
    fn spawn<T: Send + 'static>(
        permit: tokio::sync::OwnedSemaphorePermit,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> tokio::task::JoinHandle<AppResult<T>> {
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            yield_to_the_service();
            work()
        })
    }
}

/// How much lower than the service's threads plugin work runs (a nice value).
pub const WORKER_NICENESS: i32 = 5;

/// Lowers the calling thread's scheduling priority by [`WORKER_NICENESS`], once per
/// thread: however many invocations spin to their deadlines, the threads that accept
/// connections, answer health and refuse excess events are scheduled first. (On Linux a
/// nice value belongs to a thread; elsewhere this may lower the whole process, which
/// changes nothing relative to itself.)
fn yield_to_the_service() {
    thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    LOWERED.with(|lowered| {
        if !lowered.replace(true) {
            let current = rustix::process::getpriority_process(None).unwrap_or(0);
            let _ = rustix::process::setpriority_process(None, current + WORKER_NICENESS);
        }
    });
}

async fn joined<T>(handle: tokio::task::JoinHandle<AppResult<T>>) -> AppResult<T> {
    handle
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("a worker panicked")))?
}

impl Airlock {
    /// Stores what an event carries and runs every subscribed installation on it, each
    /// on a worker of the pool, answering after every invocation's records are durable
    /// (as [`Airlock::handle_event`] does), or refusing the event with
    /// [`AppError::Busy`] when [`Admission::capacity`] events are already admitted.
    pub async fn dispatch(
        self: &Arc<Self>,
        request: EventRequest,
    ) -> AppResult<Vec<DispatchResult>> {
        let admission = self.admission();
        let Ok(_admitted) = admission.admitted.clone().try_acquire_owned() else {
            return Err(AppError::Busy {
                retry_after_secs: RETRY_AFTER_SECS,
                message: format!(
                    "the service is at capacity ({} events running or waiting); retry after {RETRY_AFTER_SECS} s",
                    admission.capacity
                ),
            });
        };
        // The rest runs as its own task: a caller that goes away (a dropped connection)
        // does not leave an event stored but not delivered to every installation.
        let me = self.clone();
        let delivered = tokio::spawn(async move {
            let _admitted = _admitted;
            me.deliver(request).await
        });
        delivered
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("an event's delivery panicked")))?
    }

    /// Stores the event and runs each target on a worker, in order of the targets.
    async fn deliver(self: Arc<Self>, request: EventRequest) -> AppResult<Vec<DispatchResult>> {
        let admission = self.admission();
        let me = self.clone();
        let stored = Admission::spawn(admission.worker().await?, move || {
            let input = me.store_event(request)?;
            let targets = me.targets(input.kind())?;
            Ok((Arc::new(input), targets))
        });
        let (input, targets) = joined(stored).await?;
        let mut runs = Vec::with_capacity(targets.len());
        for inst in targets {
            let (me, input) = (self.clone(), input.clone());
            let permit = admission.worker().await?;
            runs.push(Admission::spawn(permit, move || me.run(inst, &input)));
        }
        let mut results = Vec::with_capacity(runs.len());
        for run in runs {
            results.push(joined(run).await?);
        }
        Ok(results)
    }
}
