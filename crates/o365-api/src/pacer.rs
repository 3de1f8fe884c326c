//! The per-tenant request budget: a token bucket shared by every clone of a client.

use std::time::{Duration, Instant};

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

    /// Wait until a request may go out. The waiting task sleeps once per refill; nothing polls.
    pub(crate) async fn acquire(&self) {
        if self.rate <= 0.0 {
            return;
        }
        loop {
            let wait = {
                let mut s = self.state.lock();
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.cap);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64((1.0 - s.0) / self.rate))
                }
            };
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }
}
