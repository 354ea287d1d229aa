//! Summaries of samples: mean and percentiles, as the Chord paper reports them.

/// Mean and the 1st and 99th percentiles of a sample (the paper's error bars).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// 1st percentile (nearest rank).
    pub p1: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (any order); an empty sample gives all zeros.
    pub fn of(samples: &[f64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let sum: f64 = sorted.iter().sum();
        Summary {
            count: sorted.len(),
            mean: sum / sorted.len() as f64,
            p1: percentile_sorted(&sorted, 1.0),
            p99: percentile_sorted(&sorted, 99.0),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }

    /// Summarises integer counts.
    pub fn of_counts<T: Copy + Into<f64>>(samples: &[T]) -> Summary {
        let as_f64: Vec<f64> = samples.iter().map(|&s| s.into()).collect();
        Summary::of(&as_f64)
    }
}

/// The `pct`-th percentile of an ascending, non-empty sample by the nearest-rank method: the
/// smallest value with at least `pct`% of the sample at or below it.
pub fn percentile_sorted(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Share of `part` in `whole`, 0 when `whole` is 0.
pub fn fraction(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let sample: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of(&sample);
        assert_eq!(s.p1, 1.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.mean, 50.5);
        assert_eq!((s.min, s.max, s.count), (1.0, 100.0, 100));
    }

    #[test]
    fn empty_sample_is_all_zero() {
        assert_eq!(Summary::of(&[]), Summary::default());
        assert_eq!(fraction(3, 0), 0.0);
    }
}
