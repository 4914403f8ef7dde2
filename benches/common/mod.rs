//! What the benchmarks share: their settings from the environment, the
//! line that says what machine the figures come from, and the parts below.

// Each bench uses some of these modules and not others: what one of them
// leaves unused is used by another.
#![allow(dead_code)]

pub mod chats;
pub mod files;
pub mod peak;
pub mod ports;
pub mod programs;
pub mod said;

use std::fs;
use std::thread;

/// The chat folder (identity and contacts) of the chats a bench runs: one
/// of its own under the build's temporary folder, never the home of
/// whoever runs the bench.
pub const CHAT_HOME: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/bench-chat-home");

/// The setting `name` from the environment, or `default`.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The CPU and how many cores, as the figures' first line.
pub fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
