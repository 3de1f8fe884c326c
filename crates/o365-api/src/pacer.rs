//! The per-tenant request budget: a token bucket shared by every clone of a client.
//!
//! A caller that finds the bucket empty reserves the next token and sleeps once, until its own
//! turn: the bucket may owe tokens (a negative level is the queue of reservations), so waiting
//! callers are never woken only to find it still empty. A caller dropped while waiting gives up
//! its turn unused: the budget is then under-used, never exceeded.
//!
//! Turns are rounded up to the next tick of a short period (the quantum), so that callers whose
//! turns fall in the same tick wake together: a paced collector wakes a few times a second and
//! does its requests back to back, rather than waking alone for each one (every wake-up of a
//! sleeping process costs CPU of its own, and its caches are cold). Waking later than a turn
//! never exceeds the budget; a burst of the turns of one tick is paid for by a bucket smaller by
//! one tick's worth of tokens, so the requests as sent keep to the configured bucket.

use std::time::Duration;

use tokio::time::Instant;

/// The longest quantum: the most a turn is delayed to wake with others.
const MAX_QUANTUM: Duration = Duration::from_millis(500);

/// A token bucket: `rate` requests per second, at most `cap` at once, turns on ticks of
/// `quantum`.
pub(crate) struct Pacer {
    rate: f64,
    cap: f64,
    quantum: Duration,
    origin: Instant,
    state: parking_lot::Mutex<(f64, Instant)>,
}

impl Pacer {
    /// `per_minute` requests a minute (0 = unpaced), `burst` at once; turns rounded up to ticks
    /// of at most half a second, as long as a tick's worth of tokens leaves the bucket at least
    /// one.
    pub(crate) fn new(per_minute: u32, burst: f64) -> Self {
        let rate = per_minute as f64 / 60.0;
        let quantum = if rate > 0.0 {
            // Half of what the burst leaves beyond one token, at most MAX_QUANTUM.
            let room = ((burst - 1.0) / rate / 2.0).max(0.0);
            Duration::from_secs_f64(room.min(MAX_QUANTUM.as_secs_f64()))
        } else {
            Duration::ZERO
        };
        Self::with_quantum(per_minute, burst, quantum)
    }

    /// As [`Pacer::new`], with turns on ticks of exactly `quantum` (zero: no rounding).
    fn with_quantum(per_minute: u32, burst: f64, quantum: Duration) -> Self {
        let rate = per_minute as f64 / 60.0;
        // The turns of one tick go out together: keep room for them in the bucket.
        let cap = (burst - rate * quantum.as_secs_f64()).max(1.0);
        let now = Instant::now();
        Self {
            rate,
            cap,
            quantum,
            origin: now,
            state: parking_lot::Mutex::new((cap, now)),
        }
    }

    /// A pacer of the same rate, burst and ticks, its bucket full (for another API).
    pub(crate) fn fresh(&self) -> Self {
        let now = Instant::now();
        Self {
            rate: self.rate,
            cap: self.cap,
            quantum: self.quantum,
            origin: now,
            state: parking_lot::Mutex::new((self.cap, now)),
        }
    }

    /// Wait for this caller's turn: at once while the bucket holds a token, else one sleep
    /// until the tick at or after its turn.
    pub(crate) async fn acquire(&self) {
        if self.rate <= 0.0 {
            return;
        }
        let (now, wait) = {
            let mut s = self.state.lock();
            let now = Instant::now();
            s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.cap);
            s.1 = now;
            s.0 -= 1.0;
            (
                now,
                (s.0 < 0.0).then(|| Duration::from_secs_f64(-s.0 / self.rate)),
            )
        };
        if let Some(w) = wait {
            tokio::time::sleep_until(self.tick_at_or_after(now + w)).await;
        }
    }

    /// The first tick of the quantum at or after `t`.
    fn tick_at_or_after(&self, t: Instant) -> Instant {
        let q = self.quantum.as_nanos();
        if q == 0 {
            return t;
        }
        let since = t.saturating_duration_since(self.origin).as_nanos();
        let ticks = since.div_ceil(q);
        let at = u64::try_from(ticks * q).unwrap_or(u64::MAX);
        self.origin + Duration::from_nanos(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// When each of `n` concurrent callers got its turn, in seconds from the start.
    async fn turns(per_minute: u32, burst: f64, n: usize) -> Vec<f64> {
        turns_with(Pacer::with_quantum(per_minute, burst, Duration::ZERO), n).await
    }

    /// When each of `n` concurrent callers got its turn from `p`, in seconds from the start.
    async fn turns_with(p: Pacer, n: usize) -> Vec<f64> {
        let p = Arc::new(p);
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move {
                    p.acquire().await;
                    t0.elapsed().as_secs_f64()
                })
            })
            .collect();
        let mut v = Vec::new();
        for t in tasks {
            v.push(t.await.unwrap());
        }
        v.sort_by(f64::total_cmp);
        v
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_at_once_then_one_per_interval() {
        let v = turns(60, 2.0, 5).await;
        let want = [0.0, 0.0, 1.0, 2.0, 3.0];
        for (got, want) in v.iter().zip(want) {
            assert!((got - want).abs() < 0.01, "{v:?}");
        }
    }

    /// In every window from a turn on, at most burst + rate × window turns (and one more for
    /// the float rounding of the window's ends).
    fn assert_within_the_bucket(v: &[f64], rpm: u32, burst: f64) {
        let rate = rpm as f64 / 60.0;
        for (i, a) in v.iter().enumerate() {
            for (j, b) in v.iter().enumerate().skip(i) {
                let allowed = burst + rate * (b - a) + 1e-6;
                assert!(
                    (j - i + 1) as f64 <= allowed + 1.0,
                    "{rpm}/min: {} turns in {:.3} s",
                    j - i + 1,
                    b - a
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn turns_on_ticks_keep_to_the_bucket_and_use_the_budget() {
        // The default burst (10 s worth), a small one, and one too small to round at all.
        for (rpm, burst, n) in [(2000, 333.0, 1200), (600, 20.0, 200), (120, 1.0, 30)] {
            let p = Pacer::new(rpm, burst);
            let (q, cap) = (p.quantum.as_secs_f64(), p.cap);
            let v = turns_with(p, n).await;
            assert_within_the_bucket(&v, rpm, burst);
            let rate = rpm as f64 / 60.0;
            // Every turn after the burst is on a tick, and the callers of a tick wake together.
            if q > 0.0 {
                let waited: Vec<f64> = v.iter().copied().filter(|t| *t > 0.0).collect();
                for t in &waited {
                    let ticks = t / q;
                    assert!(
                        (ticks - ticks.round()).abs() < 1e-6,
                        "{rpm}/min: turn at {t} s, quantum {q} s"
                    );
                }
                let mut wakes = waited.clone();
                wakes.dedup();
                let span = waited.last().copied().unwrap_or(0.0);
                assert!(
                    wakes.len() as f64 <= span / q + 1.0,
                    "{rpm}/min: {} wake-ups in {span:.1} s",
                    wakes.len()
                );
                assert!(
                    wakes.len() * 4 < waited.len(),
                    "{rpm}/min: {} wake-ups for {} turns",
                    wakes.len(),
                    waited.len()
                );
            }
            // The budget is used: after a burst smaller by one tick's worth, the last turn is at
            // most a tick after the rate says.
            assert!(cap >= burst - rate * q - 1e-9, "{rpm}/min: bucket {cap}");
            let last = v.last().unwrap();
            let due = (n as f64 - cap) / rate;
            assert!(
                *last <= due + q + 0.05 && *last >= due - 0.05,
                "{rpm}/min: last turn {last:.3} s, due {due:.3} s, quantum {q:.3} s"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_burst_plus_the_rate() {
        for (rpm, burst, n) in [(2000, 16.0, 200), (120, 1.0, 30), (600, 5.0, 100)] {
            let v = turns(rpm, burst, n).await;
            assert_within_the_bucket(&v, rpm, burst);
            let rate = rpm as f64 / 60.0;
            // And the budget is used: the last turn comes when the rate says.
            let last = v.last().unwrap();
            let due = (n as f64 - burst) / rate;
            assert!(
                (last - due).abs() < 0.05,
                "{rpm}/min: last turn {last:.3} s, due {due:.3} s"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unpaced_never_waits() {
        let v = turns(0, 1.0, 50).await;
        assert!(v.iter().all(|t| *t == 0.0));
    }
}
