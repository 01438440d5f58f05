//! Stage throttling, as API Gateway applies `ThrottlingRateLimit` / `ThrottlingBurstLimit`: a
//! token bucket that holds `burst` requests and refills at `rate` per second; a request that
//! finds it empty is answered with the `THROTTLED` gateway response (429, from the template)
//! without reaching the authorizer or the function.
//!
//! Off unless `devstack up --stage-throttle RATE,BURST` asks for it: the template's limits are
//! per environment (`!FindInMap`), and the black-box tests run many requests at once. Usage
//! plans (per-partner limits and quotas) are not emulated.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Requests per second, steady state.
    pub rate: f64,
    /// Requests at once.
    pub burst: u32,
}

impl FromStr for Limits {
    type Err = String;

    /// `RATE,BURST`, e.g. `10,20`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (rate, burst) = s
            .split_once(',')
            .ok_or_else(|| format!("{s:?}: expected RATE,BURST (for example 10,20)"))?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("{rate:?} is not a rate (requests per second)"))?;
        let burst: u32 = burst
            .trim()
            .parse()
            .map_err(|_| format!("{burst:?} is not a burst (a whole number of requests)"))?;
        if !(rate > 0.0 && rate.is_finite()) || burst == 0 {
            return Err(format!(
                "{s:?}: rate and burst must be above zero (API Gateway treats 0 as 'refuse everything')"
            ));
        }
        Ok(Limits { rate, burst })
    }
}

pub struct TokenBucket {
    limits: Limits,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(limits: Limits) -> TokenBucket {
        TokenBucket {
            limits,
            state: Mutex::new((f64::from(limits.burst), Instant::now())),
        }
    }

    /// Takes one request's token; `false` when the bucket is empty (throttled).
    pub fn take(&self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let refilled = (tokens
            + now.saturating_duration_since(last).as_secs_f64() * self.limits.rate)
            .min(f64::from(self.limits.burst));
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_rate_and_burst() {
        assert_eq!(
            "10,20".parse::<Limits>().unwrap(),
            Limits {
                rate: 10.0,
                burst: 20
            }
        );
        assert_eq!("0.5, 1".parse::<Limits>().unwrap().rate, 0.5);
        for bad in ["10", "a,1", "1,b", "0,1", "1,0", "-1,2"] {
            assert!(bad.parse::<Limits>().is_err(), "{bad}");
        }
    }

    #[test]
    fn burst_then_rate() {
        let bucket = TokenBucket::new(Limits {
            rate: 2.0,
            burst: 3,
        });
        let t0 = Instant::now();
        assert!(bucket.take_at(t0));
        assert!(bucket.take_at(t0));
        assert!(bucket.take_at(t0));
        assert!(!bucket.take_at(t0), "the burst is used up");
        // Half a second at 2 per second refills one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(bucket.take_at(t1));
        assert!(!bucket.take_at(t1));
        // A long pause refills up to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.take_at(t2));
        }
        assert!(!bucket.take_at(t2));
    }
}
