//! The retry schedule of a delivery to one endpoint: exponential backoff with jitter, at least
//! 72 hours in all. Attempt 1 is immediate; after failed attempt n the message waits
//! `DELAYS[n-1]` plus up to 20 % (jitter that only lengthens, so the schedule's total stays above
//! 72 h), capped at SQS's 12-hour visibility maximum. After the last delay's attempt fails, the
//! message goes to the dead-letter queue (the queue's `maxReceiveCount` is `ATTEMPTS`).

/// Seconds to wait after attempts 1, 2, ...: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h seven times.
/// Total without jitter: 77 h 35 min 5 s; 13 attempts.
pub const DELAYS: [u32; 12] = [
    5, 300, 1800, 7200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000,
];
/// Attempts in all (the first, then one per delay).
pub const ATTEMPTS: u32 = DELAYS.len() as u32 + 1;
/// SQS's longest visibility timeout.
pub const MAX_DELAY_SECONDS: u32 = 43_200;
/// Jitter: up to this fraction of the delay is added.
pub const JITTER: f64 = 0.2;
/// Environment variable that replaces `DELAYS` (comma-separated seconds; tests shorten it).
pub const DELAYS_ENV: &str = "WEBHOOK_RETRY_DELAYS_SECONDS";

/// The delays in force: `WEBHOOK_RETRY_DELAYS_SECONDS` if set and valid, else `DELAYS`.
pub fn delays() -> Vec<u32> {
    std::env::var(DELAYS_ENV)
        .ok()
        .and_then(|v| parse_delays(&v))
        .unwrap_or_else(|| DELAYS.to_vec())
}

pub fn parse_delays(v: &str) -> Option<Vec<u32>> {
    let d: Vec<u32> = v
        .split(',')
        .map(|s| s.trim().parse::<u32>().ok())
        .collect::<Option<_>>()?;
    (!d.is_empty() && d.iter().all(|s| *s <= MAX_DELAY_SECONDS)).then_some(d)
}

/// How long to wait after failed attempt `attempt` (1-based) before the next one, with
/// `unit_random` in [0, 1); `None` when that was the last attempt.
pub fn delay_after(delays: &[u32], attempt: u32, unit_random: f64) -> Option<u32> {
    let base = *delays.get(attempt.checked_sub(1)? as usize)?;
    let extra = (base as f64 * JITTER * unit_random.clamp(0.0, 1.0)) as u32;
    Some((base + extra).min(MAX_DELAY_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_lasts_at_least_72_hours_even_without_jitter() {
        let total: u32 = (1..ATTEMPTS)
            .map(|a| delay_after(&DELAYS, a, 0.0).unwrap())
            .sum();
        assert!(total >= 72 * 3600, "{total}");
        let longest: u32 = (1..ATTEMPTS)
            .map(|a| delay_after(&DELAYS, a, 0.999).unwrap())
            .sum();
        assert!(longest <= 96 * 3600, "{longest}");
        assert_eq!(delay_after(&DELAYS, ATTEMPTS, 0.5), None);
        assert_eq!(delay_after(&DELAYS, 0, 0.5), None);
        assert_eq!(delay_after(&DELAYS, 1, 0.0), Some(5));
        assert_eq!(delay_after(&DELAYS, 1, 0.5), Some(5));
        assert_eq!(delay_after(&DELAYS, 6, 0.99), Some(43_128));
    }

    #[test]
    fn delays_can_be_shortened_for_tests() {
        assert_eq!(parse_delays("1, 2,3"), Some(vec![1, 2, 3]));
        assert_eq!(parse_delays(""), None);
        assert_eq!(parse_delays("1,x"), None);
        assert_eq!(parse_delays("50000"), None);
    }
}
