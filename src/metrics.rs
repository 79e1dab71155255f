//! The performance tracker: what the manager did and how long it took.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters, updated with relaxed atomics from any thread.
#[derive(Default, Debug)]
pub struct Metrics {
    loads: AtomicU64,
    load_failures: AtomicU64,
    unloads: AtomicU64,
    verifications: AtomicU64,
    verification_failures: AtomicU64,
    bytes_loaded: AtomicU64,
    load_time_ns: AtomicU64,
    max_load_time_ns: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Fetches from a source that produced accepted code.
    pub loads: u64,
    /// Fetches or checks that failed.
    pub load_failures: u64,
    /// Addresses removed by `unload`.
    pub unloads: u64,
    /// Codes analysed and checked against the policy.
    pub verifications: u64,
    /// Codes the policy rejected.
    pub verification_failures: u64,
    /// Code bytes accepted from sources.
    pub bytes_loaded: u64,
    /// Total time spent in successful loads, in nanoseconds.
    pub load_time_ns: u64,
    /// The slowest successful load, in nanoseconds.
    pub max_load_time_ns: u64,
}

impl MetricsSnapshot {
    /// Mean time of a successful load, in nanoseconds (0 with no loads).
    pub fn mean_load_time_ns(&self) -> u64 {
        self.load_time_ns.checked_div(self.loads).unwrap_or(0)
    }
}

/// Renders the counters and cache statistics in the Prometheus text
/// exposition format (version 0.0.4), every name prefixed `ebc_`.
pub fn prometheus(metrics: &MetricsSnapshot, cache: &crate::cache::CacheStats) -> String {
    let rows: [(&str, &str, &str, u64); 13] = [
        ("loads_total", "counter", "Fetches that produced accepted code.", metrics.loads),
        ("load_failures_total", "counter", "Loads that failed.", metrics.load_failures),
        ("unloads_total", "counter", "Addresses removed by unload.", metrics.unloads),
        ("verifications_total", "counter", "Codes analysed and checked against the policy.", metrics.verifications),
        ("verification_failures_total", "counter", "Codes the policy rejected.", metrics.verification_failures),
        ("bytes_loaded_total", "counter", "Code bytes accepted from sources.", metrics.bytes_loaded),
        ("load_time_nanoseconds_total", "counter", "Time spent in successful loads.", metrics.load_time_ns),
        ("load_time_max_nanoseconds", "gauge", "The slowest successful load.", metrics.max_load_time_ns),
        ("cache_hits_total", "counter", "Cache lookups that found an entry.", cache.hits),
        ("cache_misses_total", "counter", "Cache lookups that found none.", cache.misses),
        ("cache_evictions_total", "counter", "Entries removed to make room.", cache.evictions),
        ("cache_entries", "gauge", "Addresses cached now.", cache.entries),
        ("cache_bytes", "gauge", "Bytes held by the cache now.", cache.bytes),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in rows {
        out.push_str(&format!("# HELP ebc_{name} {help}\n# TYPE ebc_{name} {kind}\nebc_{name} {value}\n"));
    }
    out
}

impl Metrics {
    /// Records a successful load of `bytes` code bytes that took `elapsed`.
    pub fn record_load(&self, bytes: usize, elapsed: Duration) {
        let ns = elapsed.as_nanos().min(u64::MAX as u128) as u64;
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.bytes_loaded.fetch_add(bytes as u64, Ordering::Relaxed);
        self.load_time_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_load_time_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// Records a failed load.
    pub fn record_failure(&self) {
        self.load_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one verification and whether the policy accepted the code.
    pub fn record_verification(&self, accepted: bool) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        if !accepted {
            self.verification_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records an unload.
    pub fn record_unload(&self) {
        self.unloads.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            loads: get(&self.loads),
            load_failures: get(&self.load_failures),
            unloads: get(&self.unloads),
            verifications: get(&self.verifications),
            verification_failures: get(&self.verification_failures),
            bytes_loaded: get(&self.bytes_loaded),
            load_time_ns: get(&self.load_time_ns),
            max_load_time_ns: get(&self.max_load_time_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_help_type_and_value_for_each_metric() {
        let m = Metrics::default();
        m.record_load(100, Duration::from_micros(3));
        m.record_failure();
        let cache = crate::cache::CacheStats { hits: 7, entries: 2, ..Default::default() };
        let text = prometheus(&m.snapshot(), &cache);
        assert!(text.contains("# TYPE ebc_loads_total counter\nebc_loads_total 1\n"), "{text}");
        assert!(text.contains("ebc_load_time_nanoseconds_total 3000\n"));
        assert!(text.contains("ebc_cache_hits_total 7\n") && text.contains("ebc_cache_entries 2\n"));
        assert_eq!(text.lines().filter(|l| l.starts_with("# HELP")).count(), 13);
    }
}
