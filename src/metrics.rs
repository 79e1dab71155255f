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
