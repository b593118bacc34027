//! The migrator's small background pool: a fixed number of threads and a
//! bounded queue. Submitting never blocks: when the queue is full the job
//! is refused, and the caller counts it. A job that panics takes down
//! neither its thread nor the caller.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// Jobs queued or running, and a condition to wait for none.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Pending {
    fn add(&self, n: isize) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_add_signed(n);
        if *count == 0 {
            self.idle.notify_all();
        }
    }
}

pub(crate) struct Pool {
    sender: SyncSender<Job>,
    pending: Arc<Pending>,
}

impl Pool {
    /// Starts `threads` threads (at least one) over a queue of `queue`
    /// jobs (at least one). The threads end when the pool is dropped and
    /// the queue is drained.
    pub(crate) fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel::<Job>(queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let pending = Arc::new(Pending::default());
        for i in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let pending = Arc::clone(&pending);
            std::thread::Builder::new()
                .name(format!("flags-migrate-{i}"))
                .spawn(move || work(&receiver, &pending))?;
        }
        Ok(Self { sender, pending })
    }

    /// Queues `job`; false (and the job dropped) when the queue is full.
    pub(crate) fn try_run(&self, job: Job) -> bool {
        self.pending.add(1);
        match self.sender.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.pending.add(-1);
                false
            }
        }
    }

    /// Waits until no job is queued or running, at most `timeout`; true
    /// when that happened.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut count = self.pending.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            count = self
                .pending
                .idle
                .wait_timeout(count, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

fn work(receiver: &Mutex<Receiver<Job>>, pending: &Pending) {
    loop {
        // The lock is held only while taking a job, never while running it.
        let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(job) = job else {
            return;
        };
        // The migrator's jobs catch their closures' panics themselves
        // (to count them); this one keeps the thread alive whatever runs.
        let _ = catch_unwind(AssertUnwindSafe(job));
        pending.add(-1);
    }
}
