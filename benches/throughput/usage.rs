//! Where a transfer's time went: the CPU each side used (from `wait4`, so
//! a process's finished threads count too) and what the machine did
//! meanwhile (idle, stolen by the hypervisor, waiting for the disk, pages
//! written out, free memory handed back to the hypervisor), so that a slow
//! round can be told from a fast one.

use std::fs;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::Mutex;
use std::time::Duration;

/// What one process used, once it has exited.
#[derive(Clone, Copy, Default)]
pub struct Usage {
    pub user: Duration,
    pub system: Duration,
    /// Times it gave the CPU up to wait, and times it was made to.
    pub waits: u64,
    pub preempted: u64,
}

/// Waits for `child` to exit, with what it used. `Child::wait` cannot tell
/// that; the child is reaped here, so it must not be waited for again.
pub fn wait_with_usage(child: &mut Child) -> io::Result<(ExitStatus, Usage)> {
    // `wait` would also close its stdin; keep the same behaviour.
    drop(child.stdin.take());
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok((
        ExitStatus::from_raw(status),
        Usage {
            user: time(usage.ru_utime),
            system: time(usage.ru_stime),
            waits: usage.ru_nvcsw as u64,
            preempted: usage.ru_nivcsw as u64,
        },
    ))
}

/// The machine's counters at one moment: CPU time by kind, summed over
/// every core, and pages written to disk.
#[derive(Clone, Copy, Default)]
pub struct Machine {
    idle: Duration,
    iowait: Duration,
    steal: Duration,
    /// KiB written out to block devices since boot.
    written_kib: u64,
    /// Dirty page-cache bytes, waiting to be written out.
    pub dirty: u64,
    /// KiB of free memory reported to the hypervisor since boot, on kernels
    /// that count it. A page handed back costs the hypervisor a fault and a
    /// fresh page when it is written again, which the writer pays for as
    /// slower kernel copies.
    reported_kib: Option<u64>,
}

/// Where the kernel counts the free memory it reported (`page_reporting`
/// on a virtual machine whose balloon device takes free pages back).
const REPORTED: &str = "/sys/module/page_reporting/parameters/reported_kib";

/// The counters when the last timed transfer ended: what the machine did
/// between two transfers tells about the second.
static LAST_END: Mutex<Option<Machine>> = Mutex::new(None);

impl Machine {
    /// Reads the counters; zeros where the kernel does not give them.
    pub fn now() -> Self {
        let mut machine = Machine::default();
        // The first line: `cpu user nice system idle iowait irq softirq steal ...`
        // in clock ticks.
        if let Some(line) = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
        {
            let ticks: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            let tick = |i: usize| ticks.get(i).map_or(Duration::ZERO, |t| ticks_to_time(*t));
            machine.idle = tick(3);
            machine.iowait = tick(4);
            machine.steal = tick(7);
        }
        if let Ok(vmstat) = fs::read_to_string("/proc/vmstat") {
            for line in vmstat.lines() {
                let mut words = line.split_whitespace();
                let (Some(name), Some(value)) = (words.next(), words.next()) else {
                    continue;
                };
                let value: u64 = value.parse().unwrap_or(0);
                match name {
                    "pgpgout" => machine.written_kib = value,
                    "nr_dirty" => machine.dirty = value * page_size(),
                    _ => {}
                }
            }
        }
        machine.reported_kib = fs::read_to_string(REPORTED)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        machine
    }

    /// What happened from `self` to now, the end of a timed transfer.
    pub fn until_now(&self) -> MachineSpan {
        let later = Machine::now();
        let last_end = LAST_END
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(later);
        let reported = |from: &Machine, to: &Machine| match (from.reported_kib, to.reported_kib) {
            (Some(from), Some(to)) => Some(to.saturating_sub(from) * 1024),
            _ => None,
        };
        MachineSpan {
            idle: later.idle.saturating_sub(self.idle),
            iowait: later.iowait.saturating_sub(self.iowait),
            steal: later.steal.saturating_sub(self.steal),
            written: later.written_kib.saturating_sub(self.written_kib) * 1024,
            dirty_before: self.dirty,
            reported_before: last_end.and_then(|end| reported(&end, self)),
            reported: reported(self, &later),
        }
    }
}

/// What the whole machine did during one transfer.
#[derive(Clone, Copy, Default)]
pub struct MachineSpan {
    /// Summed over the cores: two idle cores for 1 s count 2 s.
    pub idle: Duration,
    pub iowait: Duration,
    pub steal: Duration,
    /// Bytes written to disk meanwhile.
    pub written: u64,
    /// Dirty bytes in the page cache when it started.
    pub dirty_before: u64,
    /// Free memory reported to the hypervisor between the previous timed
    /// transfer's end and this one's start, and during this one.
    pub reported_before: Option<u64>,
    pub reported: Option<u64>,
}

fn ticks_to_time(ticks: u64) -> Duration {
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / per_second)
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64
}

/// One round of one row, told as where its time went.
pub fn describe(seconds: f64, send: Usage, receive: Usage, machine: MachineSpan) -> String {
    let side = |u: Usage| {
        format!(
            "{:.2}+{:.2} s ({}/{} cs)",
            u.user.as_secs_f64(),
            u.system.as_secs_f64(),
            u.waits,
            u.preempted
        )
    };
    let handed_back = match (machine.reported_before, machine.reported) {
        (Some(before), Some(during)) => format!(
            ", {} MiB of free memory handed back to the hypervisor before, {} during",
            before >> 20,
            during >> 20
        ),
        (None, Some(during)) => format!(
            ", {} MiB of free memory handed back to the hypervisor during",
            during >> 20
        ),
        _ => String::new(),
    };
    format!(
        "{seconds:.3} s; send user+sys {}; receive {}; machine idle {:.2} s, steal {:.2} s, \
         iowait {:.2} s, {} MiB written to disk, {} MiB dirty at start{handed_back}",
        side(send),
        side(receive),
        machine.idle.as_secs_f64(),
        machine.steal.as_secs_f64(),
        machine.iowait.as_secs_f64(),
        machine.written >> 20,
        machine.dirty_before >> 20,
    )
}
