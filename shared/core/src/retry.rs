//! One policy for optimistic-concurrency retries: a write conditioned on the version it read
//! lost a race, so read again and try again, pausing a short, jittered and growing time before
//! each retry so that racing writers (twenty submissions of the same lead at once) spread out
//! instead of colliding again in lockstep. How many times depends on who waits: a staff
//! request ([`IN_REQUEST`]) answers a conflict soon rather than keep a person waiting; a row of
//! an import or a queue message ([`IN_BATCH`]) tries a little longer; writes that many callers
//! race for by design, the same lead submitted at once or a shared advertising cap
//! ([`CONTENDED`]), longest. Every retry loop of the use cases is
//! `for attempt in retry::attempts(retry::IN_REQUEST) { attempt.pause().await; … }`.

use std::time::Duration;

/// Attempts of a staff request before it answers a conflict (under 70 ms of pauses in all).
pub const IN_REQUEST: u32 = 3;
/// Attempts of an import row or a queue message before it is reported failed or redelivered.
pub const IN_BATCH: u32 = 5;
/// Attempts of a write many callers race for by design before it gives up.
pub const CONTENDED: u32 = 10;

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

/// The attempts of one retry loop, `limit` of them (one of [`IN_REQUEST`], [`IN_BATCH`],
/// [`CONTENDED`]).
pub fn attempts(limit: u32) -> impl Iterator<Item = Attempt> {
    (0..limit).map(|number| Attempt { number })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_waits_nothing_and_retries_wait_a_bounded_growing_time() {
        assert_eq!(attempts(IN_REQUEST).count(), 3);
        let all: Vec<Attempt> = attempts(CONTENDED).collect();
        assert_eq!(all.len(), CONTENDED as usize);
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
