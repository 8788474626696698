//! How inference spreads over CPU threads, as a value owned by whoever runs the model.
//!
//! Tiny matrix products gain nothing from libtorch's intra-op threads (the hand-off costs more
//! than the work), while the encoder's two directions are independent: so small batches can run
//! one direction per thread, one libtorch thread each, and large batches use all threads inside
//! each operation. Each [`Threading`] has its own helper thread and sets libtorch's thread count
//! on the calling thread before every batch, so two taggers with different settings in one
//! process never disturb each other.

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use tch::Tensor;

pub use ner_tagger::threading::{EncoderThreading, SMALL_BATCH};

/// How one batch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// Both directions on the calling thread, with this many libtorch threads.
    IntraOp { threads: i32 },
    /// The backward direction on the helper thread; each side with this many libtorch threads.
    Directions { threads: i32 },
}

/// A thread budget and a mode, with the helper thread the mode may need.
#[derive(Debug)]
pub struct Threading {
    threads: i32,
    mode: EncoderThreading,
    helper: Option<Helper>,
}

impl Threading {
    /// `threads` in all (`None`: libtorch's current count on the calling thread).
    pub fn new(threads: Option<i32>, mode: EncoderThreading) -> Self {
        Threading {
            threads: threads.unwrap_or_else(tch::get_num_threads).max(1),
            mode,
            helper: None,
        }
    }

    pub fn threads(&self) -> i32 {
        self.threads
    }

    pub fn mode(&self) -> EncoderThreading {
        self.mode
    }

    /// The arrangement for a batch of `sentences`: a function of this value alone.
    pub fn arrangement(&self, sentences: usize) -> Arrangement {
        let parallel = self.threads >= 2
            && match self.mode {
                EncoderThreading::Auto => sentences <= SMALL_BATCH,
                EncoderThreading::Directions => true,
                EncoderThreading::IntraOp => false,
            };
        if parallel {
            Arrangement::Directions {
                threads: (self.threads / 2).max(1),
            }
        } else {
            Arrangement::IntraOp {
                threads: self.threads,
            }
        }
    }

    /// Sets up the calling thread for a batch of `sentences`; returns the helper that runs the
    /// backward direction when the directions run in parallel.
    pub fn prepare(&mut self, sentences: usize) -> Option<&Helper> {
        match self.arrangement(sentences) {
            Arrangement::IntraOp { threads } => {
                set_threads_here(threads);
                None
            }
            Arrangement::Directions { threads } => {
                set_threads_here(threads);
                if self.helper.is_none() {
                    self.helper = Helper::start(threads);
                }
                self.helper.as_ref()
            }
        }
    }
}

/// Sets libtorch's intra-op thread count for the calling thread, when it differs.
fn set_threads_here(n: i32) {
    if tch::get_num_threads() != n {
        tch::set_num_threads(n);
    }
}

type Task = Box<dyn FnOnce() + Send>;

/// A long-lived thread that runs the backward direction, so that no thread starts per batch.
#[derive(Debug)]
pub struct Helper {
    tx: Option<SyncSender<Task>>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    fn start(threads: i32) -> Option<Helper> {
        let (tx, rx) = sync_channel::<Task>(4);
        let thread = std::thread::Builder::new()
            .name("ner-bwd".into())
            .spawn(move || {
                tch::set_num_threads(threads);
                while let Ok(task) = rx.recv() {
                    tch::no_grad(task);
                }
            })
            .ok()?;
        Some(Helper {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Runs `f` on the helper thread; `None` when it is gone (the caller then runs it).
    pub fn submit(&self, f: impl FnOnce() -> Tensor + Send + 'static) -> Option<Receiver<Tensor>> {
        let (rtx, rrx) = channel();
        let task: Task = Box::new(move || {
            let _ = rtx.send(f());
        });
        self.tx.as_ref()?.send(task).ok()?;
        Some(rrx)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop; join so its tensors are freed first.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrangement_follows_mode_and_budget() {
        let auto = Threading::new(Some(2), EncoderThreading::Auto);
        assert_eq!(auto.arrangement(1), Arrangement::Directions { threads: 1 });
        assert_eq!(auto.arrangement(64), Arrangement::IntraOp { threads: 2 });
        let dirs = Threading::new(Some(4), EncoderThreading::Directions);
        assert_eq!(dirs.arrangement(64), Arrangement::Directions { threads: 2 });
        let one = Threading::new(Some(1), EncoderThreading::Directions);
        assert_eq!(one.arrangement(1), Arrangement::IntraOp { threads: 1 });
        let intra = Threading::new(Some(2), EncoderThreading::IntraOp);
        assert_eq!(intra.arrangement(1), Arrangement::IntraOp { threads: 2 });
    }
}
