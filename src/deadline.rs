//! [`Deadline`]: a sleep that can be kept across the iterations of a `select!` loop, moved later
//! cheaply, and that asks the runtime for a timer only when it needs a new one.
//!
//! Why: madsim's `Sleep` registers a fresh timer on *every* poll that finds it pending, and a
//! registered timer stays in the simulator's heap until its instant even when the sleep is gone.
//! A loop that re-creates (or merely re-polls) a sleep on every wake-up — a kubelet's job timer, a
//! watch stream's end, an informer's idle timeout, a request's timeout — left one timer per
//! wake-up: at 5,000 kubelets and 150,000 pods, millions of dead timers, hundreds of megabytes and
//! a heap that every timer operation walks. Under real tokio the extra polls were merely wasted.
//!
//! A `Deadline` polls its sleep only when no timer is armed for its instant and its waker, so a
//! task registers one timer per instant. [`Deadline::extend`] moves the instant later without a
//! new timer: when the armed one fires, the deadline sees it is not due yet and arms the later
//! instant (one timer per period instead of one per event).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The shortest wait, as tokio's and madsim's sleeps have it: a deadline already past still
/// yields, so a loop that waits on one cannot spin without letting simulated time move.
pub const MIN_SLEEP: Duration = Duration::from_millis(1);

/// A resettable sleep that registers one timer per instant (see the module docs).
#[derive(Debug)]
pub struct Deadline {
    sleep: Pin<Box<Sleep>>,
    /// The instant the deadline is due.
    due: Instant,
    /// The instant and waker a timer is registered for, if any.
    armed: Option<(Instant, Waker)>,
}

impl Deadline {
    /// Due at `due`, but no sooner than [`MIN_SLEEP`] from now.
    pub fn at(due: Instant) -> Deadline {
        let due = due.max(Instant::now() + MIN_SLEEP);
        Deadline { sleep: Box::pin(tokio::time::sleep_until(due)), due, armed: None }
    }

    /// Due `after` from now.
    pub fn after(after: Duration) -> Deadline {
        Deadline::at(Instant::now() + after)
    }

    /// Whether it is due.
    pub fn is_due(&self) -> bool {
        Instant::now() >= self.due
    }

    /// Due at `due` instead, earlier or later, but no sooner than [`MIN_SLEEP`] from now.
    pub fn reset(&mut self, due: Instant) {
        let due = due.max(Instant::now() + MIN_SLEEP);
        if due != self.due {
            self.due = due;
            self.sleep.as_mut().reset(due);
        }
    }

    /// Waits until `due`, resetting to it, or forever when there is none: the timer of a loop
    /// whose next wake-up may be nothing.
    pub async fn wait_until(&mut self, due: Option<Instant>) {
        match due {
            Some(due) => {
                self.reset(due);
                self.await
            }
            None => std::future::pending().await,
        }
    }

    /// Due at `due` if that is later. A timer armed for the earlier instant stays: when it fires
    /// the deadline arms the later one, so pushing a deadline back on every event costs nothing.
    pub fn extend(&mut self, due: Instant) {
        if due > self.due {
            self.due = due;
        }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.due {
            return Poll::Ready(());
        }
        if let Some((at, waker)) = &this.armed {
            // A timer for an instant at or before the due one wakes this waker in time; when it
            // fires early (the deadline was extended), the code below arms the later instant.
            if *at <= this.due && Instant::now() < *at && waker.will_wake(cx.waker()) {
                return Poll::Pending;
            }
        }
        if this.sleep.deadline() != this.due {
            this.sleep.as_mut().reset(this.due);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => {
                this.armed = Some((this.due, cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

/// Like `tokio::time::timeout`, with the timer armed once (see the module docs).
pub async fn timeout<F: Future>(after: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut deadline = Deadline::after(after);
    tokio::select! {
        biased;
        out = future => Ok(out),
        () = &mut deadline => Err(Elapsed),
    }
}

/// [`timeout`]'s error: the time ran out first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// `elapsed` is at least `expected`, and not absurdly more (real clocks are noisy; the
    /// simulator's is exact).
    fn near(elapsed: Duration, expected: Duration) {
        assert!(elapsed >= expected && elapsed < expected + 500 * MS, "{elapsed:?} vs {expected:?}");
    }

    #[tokio::test]
    async fn fires_at_its_instant_and_after_a_reset_at_the_new_one() {
        let start = Instant::now();
        let mut d = Deadline::after(50 * MS);
        (&mut d).await;
        near(start.elapsed(), 50 * MS);
        let again = Instant::now();
        d.reset(again + 20 * MS);
        (&mut d).await;
        near(again.elapsed(), 20 * MS);
    }

    #[tokio::test]
    async fn an_extended_deadline_fires_at_the_later_instant() {
        let start = Instant::now();
        let mut d = Deadline::after(10 * MS);
        // Armed for 10 ms, then pushed to 60 ms: the 10 ms timer must not end it.
        assert!(futures::FutureExt::now_or_never(&mut d).is_none());
        d.extend(start + 60 * MS);
        d.extend(start + 30 * MS); // earlier: ignored
        (&mut d).await;
        near(start.elapsed(), 60 * MS);
        assert!(d.is_due());
    }

    #[tokio::test]
    async fn an_earlier_reset_fires_early() {
        let start = Instant::now();
        let mut d = Deadline::after(10_000 * MS);
        assert!(futures::FutureExt::now_or_never(&mut d).is_none());
        d.reset(start + 20 * MS);
        (&mut d).await;
        near(start.elapsed(), 20 * MS);
    }

    #[tokio::test]
    async fn a_deadline_in_the_past_still_waits_a_moment() {
        // Else a loop that waits on an overdue deadline would spin without yielding.
        let start = Instant::now();
        let mut d = Deadline::at(start);
        assert!(futures::FutureExt::now_or_never(&mut d).is_none());
        d.reset(start);
        (&mut d).await;
        near(start.elapsed(), MIN_SLEEP);
    }

    #[tokio::test]
    async fn timeout_gives_the_output_or_elapsed() {
        assert_eq!(timeout(10 * MS, async { 7 }).await, Ok(7));
        let start = Instant::now();
        assert_eq!(timeout(20 * MS, tokio::time::sleep(10_000 * MS)).await, Err(Elapsed));
        near(start.elapsed(), 20 * MS);
    }
}
