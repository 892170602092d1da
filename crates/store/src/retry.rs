//! Retry schedule for outbox items (DESIGN.md §7): exponential backoff with jitter, capped, and never
//! past the MM's expiry (after which the recipient is expired and an expired report is queued,
//! MMS ENC Status Expired 128).

use std::time::Duration;

use crate::model::Timestamp;

/// Parameters of [`retry_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Largest delay between two attempts.
    pub cap: Duration,
    /// Give up (return `None`) once this many attempts were made; `0` means no limit.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, doubling, capped at one hour, no attempt limit (the MM's expiry bounds it).
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            max_attempts: 0,
        }
    }
}

/// When to try again after `attempts` failed attempts (1 after the first failure), or `None` when the
/// next attempt would fall on or after `expiry` or `max_attempts` is reached.
///
/// The delay is `min(cap, base * 2^(attempts-1))`, scaled into `[delay/2, delay)` by `jitter` (a number in
/// `[0, 1)` the caller draws, so the function stays pure and testable).
pub fn retry_at(
    policy: &RetryPolicy,
    attempts: u32,
    now: Timestamp,
    expiry: Timestamp,
    jitter: f64,
) -> Option<Timestamp> {
    if policy.max_attempts != 0 && attempts >= policy.max_attempts {
        return None;
    }
    let exponent = attempts.saturating_sub(1).min(40);
    let base_ms = u64::try_from(policy.base.as_millis()).unwrap_or(u64::MAX);
    let cap_ms = u64::try_from(policy.cap.as_millis()).unwrap_or(u64::MAX);
    let delay = base_ms.saturating_mul(1u64 << exponent).min(cap_ms);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Scale into [delay/2, delay]; the float product is bounded by `delay`, so the cast is exact enough.
    let half = delay / 2;
    let spread = ((delay - half) as f64 * jitter) as u64;
    let wait = i64::try_from(half.saturating_add(spread).max(1)).unwrap_or(i64::MAX);
    let at = Timestamp::from_millis(now.as_millis().saturating_add(wait));
    (at < expiry).then_some(at)
}

/// [`retry_at`] with jitter drawn from the thread-local random generator.
pub fn retry_at_random(
    policy: &RetryPolicy,
    attempts: u32,
    now: Timestamp,
    expiry: Timestamp,
) -> Option<Timestamp> {
    retry_at(policy, attempts, now, expiry, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);
    const FAR: Timestamp = Timestamp::from_millis(i64::MAX);

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(300),
            max_attempts: 0,
        }
    }

    fn delay(attempts: u32, jitter: f64) -> i64 {
        retry_at(&policy(), attempts, NOW, FAR, jitter)
            .map(|t| t.as_millis() - NOW.as_millis())
            .unwrap_or(-1)
    }

    #[test]
    fn delay_doubles_per_attempt_until_the_cap() {
        assert_eq!(delay(1, 1.0), 10_000);
        assert_eq!(delay(2, 1.0), 20_000);
        assert_eq!(delay(3, 1.0), 40_000);
        assert_eq!(delay(6, 1.0), 300_000);
        assert_eq!(delay(1000, 1.0), 300_000);
    }

    #[test]
    fn jitter_spreads_the_delay_over_its_upper_half() {
        assert_eq!(delay(1, 0.0), 5_000);
        assert_eq!(delay(1, 0.5), 7_500);
        for j in [0.0, 0.1, 0.37, 0.99, 1.0] {
            let d = delay(4, j);
            assert!((40_000..=80_000).contains(&d), "{d}");
        }
    }

    #[test]
    fn out_of_range_jitter_is_clamped() {
        assert_eq!(delay(1, -3.0), 5_000);
        assert_eq!(delay(1, 7.0), 10_000);
        assert_eq!(delay(1, f64::NAN), 5_000);
    }

    #[test]
    fn no_retry_on_or_after_expiry() {
        let expiry = Timestamp::from_millis(NOW.as_millis() + 10_000);
        assert_eq!(retry_at(&policy(), 1, NOW, expiry, 1.0), None);
        assert!(retry_at(&policy(), 1, NOW, expiry, 0.99).is_some());
        assert_eq!(retry_at(&policy(), 1, NOW, NOW, 0.0), None);
    }

    #[test]
    fn attempt_limit_stops_retries() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..policy()
        };
        assert!(retry_at(&p, 2, NOW, FAR, 0.5).is_some());
        assert_eq!(retry_at(&p, 3, NOW, FAR, 0.5), None);
    }

    #[test]
    fn huge_durations_saturate_instead_of_overflowing() {
        let p = RetryPolicy {
            base: Duration::from_secs(u64::MAX),
            cap: Duration::MAX,
            max_attempts: 0,
        };
        assert_eq!(retry_at(&p, u32::MAX, NOW, FAR, 1.0), None);
        let capped = RetryPolicy {
            cap: Duration::from_secs(3600),
            ..p
        };
        assert_eq!(
            retry_at(&capped, u32::MAX, NOW, FAR, 1.0),
            Some(Timestamp::from_millis(NOW.as_millis() + 3_600_000))
        );
    }
}
