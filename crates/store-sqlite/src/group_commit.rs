//! Group commit, leader/follower style, for any writer behind a mutex.
//!
//! A caller queues its job, then tries to take the writer. If it is free, the caller
//! becomes the leader and writes every queued job in one go (one transaction, one sync);
//! otherwise it waits on its own channel for the leader to answer. A lone caller thus
//! writes directly, and concurrent callers share one durable commit without waking one
//! another.
//!
//! No job is left behind: a leader that finds the queue empty releases the writer and
//! looks at the queue once more, so a job queued while it held the writer (whose caller
//! found the writer taken) is written by it or by a later leader. The writer may also be
//! held by someone who is not a leader (a read of the chain, a prune): a waiting caller
//! therefore tries to lead again every [`RETRY`] until its job is answered.

use std::sync::{Mutex, MutexGuard, TryLockError, mpsc};
use std::time::Duration;

/// How long a caller waits for a leader before trying to take the writer itself.
const RETRY: Duration = Duration::from_millis(2);

/// Jobs waiting for the next leader.
pub(crate) struct Queue<J, R> {
    jobs: Mutex<Vec<(J, mpsc::SyncSender<R>)>>,
    max_per_group: usize,
}

impl<J, R> Queue<J, R> {
    /// A queue whose leaders write at most `max_per_group` jobs at a time.
    pub(crate) fn new(max_per_group: usize) -> Queue<J, R> {
        Queue {
            jobs: Mutex::new(Vec::new()),
            max_per_group: max_per_group.max(1),
        }
    }

    /// Queues `job` and returns its result, written by this caller (with `write`, as
    /// the leader) or by another leader. `write` gets the writer and the jobs of one
    /// group and returns one result per job, in order. `None` if the job was dropped
    /// unanswered (a leader panicked).
    pub(crate) fn submit<W>(
        &self,
        job: J,
        writer: &Mutex<W>,
        mut write: impl FnMut(&mut W, Vec<J>) -> Vec<R>,
    ) -> Option<R> {
        let (done, answer) = mpsc::sync_channel(1);
        relock(&self.jobs).push((job, done));
        loop {
            let mut slot = match writer.try_lock() {
                Ok(slot) => slot,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                // A leader is writing, and answers this job when it looks at the queue
                // again; or the writer is held for something else, so look again soon.
                Err(TryLockError::WouldBlock) => match answer.recv_timeout(RETRY) {
                    Ok(result) => return Some(result),
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                },
            };
            let group: Vec<(J, mpsc::SyncSender<R>)> = {
                let mut jobs = relock(&self.jobs);
                let n = jobs.len().min(self.max_per_group);
                jobs.drain(..n).collect()
            };
            if group.is_empty() {
                drop(slot);
                match relock(&self.jobs).is_empty() {
                    true => break,
                    false => continue,
                }
            }
            let (jobs, senders): (Vec<J>, Vec<_>) = group.into_iter().unzip();
            let results = write(&mut slot, jobs);
            drop(slot);
            for (sender, result) in senders.into_iter().zip(results) {
                let _ = sender.send(result);
            }
        }
        answer.recv().ok()
    }
}

pub(crate) fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The writer held by someone who is not a leader: the job is still written.
    #[test]
    fn a_job_queued_while_the_writer_is_otherwise_held_is_written() {
        let queue = Arc::new(Queue::<u32, u32>::new(8));
        let writer = Arc::new(Mutex::new(()));
        let held = writer.lock().unwrap();
        let (done, answered) = mpsc::channel();
        let (q, w) = (queue.clone(), writer.clone());
        std::thread::spawn(move || done.send(q.submit(7, &w, |_, jobs| jobs)));
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        let answer = answered.recv_timeout(Duration::from_secs(10));
        assert_eq!(answer, Ok(Some(7)), "the job was left unwritten");
    }

    #[test]
    fn every_job_is_answered_once_with_its_own_result() {
        let queue = Arc::new(Queue::<u32, u32>::new(8));
        let writer = Arc::new(Mutex::new(Vec::<usize>::new()));
        let handles: Vec<_> = (0..16u32)
            .map(|t| {
                let (queue, writer) = (queue.clone(), writer.clone());
                std::thread::spawn(move || {
                    (0..200u32)
                        .map(|i| {
                            let job = t * 1000 + i;
                            let answer = queue.submit(job, &writer, |groups, jobs| {
                                groups.push(jobs.len());
                                jobs.iter().map(|j| j * 2).collect()
                            });
                            assert_eq!(answer, Some(job * 2));
                        })
                        .count()
                })
            })
            .collect();
        let answered: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(answered, 3200);
        let groups = writer.lock().unwrap();
        assert_eq!(groups.iter().sum::<usize>(), 3200, "each job written once");
        assert!(groups.iter().all(|&n| n <= 8), "groups are bounded");
    }
}
