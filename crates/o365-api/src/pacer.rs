//! The per-tenant request budget: a token bucket shared by every clone of a client.
//!
//! A caller that finds the bucket empty reserves the next token and sleeps once, until its own
//! turn: the bucket may owe tokens (a negative level is the queue of reservations), so waiting
//! callers are never woken only to find it still empty. A caller dropped while waiting gives up
//! its turn unused: the budget is then under-used, never exceeded.

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `rate` requests per second, at most `cap` at once.
pub(crate) struct Pacer {
    rate: f64,
    cap: f64,
    state: parking_lot::Mutex<(f64, Instant)>,
}

impl Pacer {
    /// `per_minute` requests a minute (0 = unpaced), `burst` at once.
    pub(crate) fn new(per_minute: u32, burst: f64) -> Self {
        Self {
            rate: per_minute as f64 / 60.0,
            cap: burst,
            state: parking_lot::Mutex::new((burst, Instant::now())),
        }
    }

    /// Wait for this caller's turn: at once while the bucket holds a token, else one sleep.
    pub(crate) async fn acquire(&self) {
        if self.rate <= 0.0 {
            return;
        }
        let wait = {
            let mut s = self.state.lock();
            let now = Instant::now();
            s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.cap);
            s.1 = now;
            s.0 -= 1.0;
            (s.0 < 0.0).then(|| Duration::from_secs_f64(-s.0 / self.rate))
        };
        if let Some(w) = wait {
            tokio::time::sleep(w).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// When each of `n` concurrent callers got its turn, in seconds from the start.
    async fn turns(per_minute: u32, burst: f64, n: usize) -> Vec<f64> {
        let p = Arc::new(Pacer::new(per_minute, burst));
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

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_burst_plus_the_rate() {
        for (rpm, burst, n) in [(2000, 16.0, 200), (120, 1.0, 30), (600, 5.0, 100)] {
            let v = turns(rpm, burst, n).await;
            let rate = rpm as f64 / 60.0;
            // In every window from a turn on, at most burst + rate × window turns.
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
