//! One policy for optimistic-concurrency retries: a write conditioned on the version it read
//! lost a race, so read again and try again, up to [`ATTEMPTS`] times, pausing a short,
//! jittered and growing time before each retry so that racing writers (twenty submissions of
//! the same lead at once) spread out instead of colliding again in lockstep. Every retry loop
//! of the use cases is `for attempt in retry::attempts() { attempt.pause().await; … }`.

use std::time::Duration;

/// Attempts before a write that keeps losing races gives up (and the caller answers a
/// conflict or lets the queue redeliver).
pub const ATTEMPTS: u32 = 10;

/// Longest pause before one retry, jitter included.
pub const MAX_PAUSE: Duration = Duration::from_millis(80);

/// One attempt of a retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
}

impl Attempt {
    /// 0 for the first attempt, 1 for the first retry, …
    pub fn number(self) -> u32 {
        self.number
    }

    /// Whether this attempt follows a lost race.
    pub fn is_retry(self) -> bool {
        self.number > 0
    }

    /// The pause before this attempt: none before the first; then 10 ms more per retry (at
    /// most 60 ms) and up to 20 ms of jitter.
    pub fn delay(self) -> Duration {
        if self.number == 0 {
            return Duration::ZERO;
        }
        let jitter = (ulid::Ulid::new().random() % 20) as u64;
        Duration::from_millis(u64::from(self.number.min(6)) * 10 + jitter)
    }

    /// Waits [`Attempt::delay`].
    pub async fn pause(self) {
        let delay = self.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// The attempts of one retry loop, [`ATTEMPTS`] of them.
pub fn attempts() -> impl Iterator<Item = Attempt> {
    (0..ATTEMPTS).map(|number| Attempt { number })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_waits_nothing_and_retries_wait_a_bounded_growing_time() {
        let all: Vec<Attempt> = attempts().collect();
        assert_eq!(all.len(), ATTEMPTS as usize);
        assert!(!all[0].is_retry());
        assert_eq!(all[0].delay(), Duration::ZERO);
        for attempt in &all[1..] {
            assert!(attempt.is_retry());
            let delay = attempt.delay();
            let floor = Duration::from_millis(u64::from(attempt.number().min(6)) * 10);
            assert!(
                delay >= floor && delay < floor + Duration::from_millis(20),
                "{delay:?}"
            );
            assert!(delay <= MAX_PAUSE);
        }
    }
}
