//! Small arithmetic shared by the scenarios: rounding, percentiles, rates.

/// `x` rounded to two decimals, for tables and JSON.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The peer's percentile of sorted values: the element at `floor(len × q)`.
pub fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    let idx = (sorted.len() as f64 * q).floor() as usize;
    sorted.get(idx.min(sorted.len().saturating_sub(1))).copied()
}

/// `count` a second over `ms` milliseconds, rounded.
pub fn per_second(count: u64, ms: f64) -> f64 {
    (count as f64 * 1000.0 / ms.max(1.0)).round()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(51));
        assert_eq!(percentile(&v, 0.99), Some(100));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(per_second(4000, 2000.0), 2000.0);
        assert_eq!(round2(1.23456), 1.23);
    }
}
