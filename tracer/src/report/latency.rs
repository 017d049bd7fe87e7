//! Log2 latency histograms (the kernel's buckets) and the one piece of arithmetic the
//! renderers share on them: a quantile's bucket bound.
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyBucket {
    pub from_ns: u64,
    pub count: u64,
}

/// The upper bound of the log2 bucket holding quantile `q` (0..=1) of the samples.
pub fn quantile_bound_ns(buckets: &[LatencyBucket], q: f64) -> Option<u64> {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let want = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for b in buckets {
        seen += b.count;
        if seen >= want {
            return Some(if b.from_ns == 0 { 2 } else { b.from_ns * 2 });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let b = [
            LatencyBucket { from_ns: 0, count: 1 },
            LatencyBucket { from_ns: 1024, count: 98 },
            LatencyBucket { from_ns: 1 << 20, count: 1 },
        ];
        assert_eq!(quantile_bound_ns(&b, 0.5), Some(2048));
        assert_eq!(quantile_bound_ns(&b, 0.01), Some(2));
        assert_eq!(quantile_bound_ns(&b, 1.0), Some(2 << 20));
        assert_eq!(quantile_bound_ns(&[], 0.5), None);
    }
}
