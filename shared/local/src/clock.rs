//! A clock whose time is simulated: it starts at a chosen instant, flows at a chosen speed
//! (0 freezes it, 1 is real time, 3600 plays an hour a second) and can be moved forward.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use nhip_ports::Clock;

#[derive(Debug)]
struct State {
    /// Simulated time at `anchored`.
    at: DateTime<Utc>,
    /// Real time when `at` was set.
    anchored: Instant,
    /// Simulated seconds per real second.
    speed: f64,
}

/// A simulated clock, shared by every component of a local run or a test.
#[derive(Debug)]
pub struct SimulatedClock {
    state: Mutex<State>,
}

impl SimulatedClock {
    /// A clock standing still at `at` until advanced.
    pub fn frozen(at: DateTime<Utc>) -> Self {
        Self::running(at, 0.0)
    }

    /// A clock starting at `at` and flowing `speed` times faster than real time.
    pub fn running(at: DateTime<Utc>, speed: f64) -> Self {
        Self {
            state: Mutex::new(State {
                at,
                anchored: Instant::now(),
                speed: speed.max(0.0),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two plain values; a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward by `by` (negative durations are ignored: time never runs back).
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut state = self.lock();
        let now = current(&state) + by.max(Duration::zero());
        state.at = now;
        state.anchored = Instant::now();
        now
    }

    /// Moves the clock to `to` if that is later than now; returns the time afterwards.
    pub fn advance_to(&self, to: DateTime<Utc>) -> DateTime<Utc> {
        let mut state = self.lock();
        let now = current(&state).max(to);
        state.at = now;
        state.anchored = Instant::now();
        now
    }

    /// Changes the speed from now on.
    pub fn set_speed(&self, speed: f64) {
        let mut state = self.lock();
        state.at = current(&state);
        state.anchored = Instant::now();
        state.speed = speed.max(0.0);
    }

    /// The current speed.
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }
}

fn current(state: &State) -> DateTime<Utc> {
    if state.speed == 0.0 {
        return state.at;
    }
    let real = state.anchored.elapsed().as_secs_f64() * state.speed;
    let simulated = Duration::microseconds((real * 1_000_000.0) as i64);
    state.at + simulated
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        current(&self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
        let clock = SimulatedClock::frozen(start);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        clock.advance(Duration::days(30));
        assert_eq!(clock.now(), start + Duration::days(30));
        clock.advance(Duration::days(-1));
        assert_eq!(clock.now(), start + Duration::days(30));
        clock.advance_to(start);
        assert_eq!(clock.now(), start + Duration::days(30));
    }

    #[test]
    fn running_clock_flows_at_its_speed() {
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
        let clock = SimulatedClock::running(start, 3600.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let elapsed = clock.now() - start;
        assert!(elapsed >= Duration::seconds(60), "{elapsed}");
    }
}
