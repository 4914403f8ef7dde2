//! magic-wormhole's mailbox server and transit relay, the real ones from
//! PyPI, installed in the venv the tests use too (kept in the target
//! folder) and started on free loopback ports; stopped when dropped.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::ports::{free_port, listening};
use crate::common::programs::installed;

/// The servers' versions, pinned as the tests pin them
/// (`tests/suite/common/wormhole.rs`), so that both use one venv.
const PACKAGES: [&str; 2] = [
    "magic-wormhole-mailbox-server==0.8.0",
    "magic-wormhole-transit-relay==0.5.0",
];

/// How long a server may take to listen (about a second here).
const START_WITHIN: Duration = Duration::from_secs(30);

/// The two servers, running.
pub struct Servers {
    mailbox: Server,
    relay: Server,
}

impl Servers {
    /// Installs the servers in a venv under `target` if they are not there
    /// yet and starts them, with their logs and database in `folder`; or
    /// says why not.
    pub fn start(target: &Path, folder: &Path) -> Result<Self, String> {
        let venv = ready_venv(target)?;
        fs::create_dir_all(folder).map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
        let twistd = venv.join("bin/twistd");
        let mailbox = Server::start(&twistd, folder, "mailbox", |port| {
            vec![
                "wormhole-mailbox".into(),
                format!("--port=tcp:{port}:interface=127.0.0.1"),
                format!("--channel-db={}", folder.join("mailbox.sqlite").display()),
            ]
        })?;
        let relay = Server::start(&twistd, folder, "relay", |port| {
            vec![
                "transitrelay".into(),
                format!("--port=tcp:{port}:interface=127.0.0.1"),
            ]
        })?;
        Ok(Self { mailbox, relay })
    }

    /// The servers' versions, as pip names them.
    pub fn versions(&self) -> String {
        PACKAGES.join(", ")
    }

    /// The options that make a chat use these two servers.
    pub fn options(&self) -> [String; 4] {
        [
            "--mailbox".into(),
            format!("ws://127.0.0.1:{}/v1", self.mailbox.port),
            "--relay".into(),
            self.relay_addr(),
        ]
    }

    /// The relay as a chat names it: `tcp:127.0.0.1:PORT`.
    pub fn relay_addr(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.relay.port)
    }

    /// The CPU time the relay has used so far: it grows by seconds when a
    /// transfer passes through it, and hardly at all otherwise.
    pub fn relay_cpu(&self) -> Duration {
        cpu_time(self.relay.process.id())
    }
}

/// One twistd server.
struct Server {
    process: Child,
    port: u16,
}

impl Server {
    /// Starts twistd with the plugin and options `args` gives for a port,
    /// logging into `folder/NAME.log`, and waits until it listens.
    fn start(
        twistd: &Path,
        folder: &Path,
        name: &str,
        args: impl FnOnce(u16) -> Vec<String>,
    ) -> Result<Self, String> {
        let port = free_port();
        let log = folder.join(format!("{name}.log"));
        // In the foreground, and without a pid file: two in one folder
        // would share twistd.pid.
        let process = Command::new(twistd)
            .args(["-n", "--pidfile=", "-l"])
            .arg(&log)
            .args(args(port))
            .current_dir(folder)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the {name} server: {e}"))?;
        let mut server = Self { process, port };
        // An outside server that says nothing when it is ready: its port
        // is watched.
        let deadline = Instant::now() + START_WITHIN;
        while !listening(port) {
            let tail = || last_line(&log);
            if let Ok(Some(status)) = server.process.try_wait() {
                return Err(format!("the {name} server stopped ({status}): {}", tail()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the {name} server did not listen within {} s: {}",
                    START_WITHIN.as_secs(),
                    tail()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The venv with both servers, made under `target` unless it is there
/// already, as the tests make it: a lock file keeps two programs from
/// making it at once, and a marker written last, naming the versions,
/// tells a complete one from one cut short or made for other versions.
fn ready_venv(target: &Path) -> Result<PathBuf, String> {
    let home = target.join("wormhole-servers");
    let failed = |what: &str, e: std::io::Error| format!("{what} {}: {e}", home.display());
    fs::create_dir_all(&home).map_err(|e| failed("cannot make", e))?;
    let lock = File::create(home.join("lock")).map_err(|e| failed("cannot lock", e))?;
    // SAFETY: flock on a file held open here; closing it when this
    // function returns releases the lock.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(failed("cannot lock", std::io::Error::last_os_error()));
    }
    let venv = home.join("venv");
    let marker = venv.join("complete");
    let pins = PACKAGES.join("\n");
    if fs::read_to_string(&marker).ok().as_deref() == Some(pins.as_str()) {
        return Ok(venv);
    }
    if !installed("python3") {
        return Err("python3 is not installed".into());
    }
    let _ = fs::remove_dir_all(&venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 cannot make a venv",
    )?;
    run(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PACKAGES),
        "pip cannot install the servers",
    )?;
    fs::write(&marker, &pins).map_err(|e| failed("cannot mark the venv in", e))?;
    Ok(venv)
}

/// Runs `command` to its end; if it fails, `what` with the last line it
/// wrote to stderr.
fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let last = said.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    Err(format!("{what} ({}): {last}", output.status))
}

/// The last line of a server's log, to say why it did not start.
fn last_line(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines().last().unwrap_or("nothing logged").to_string()
}

/// User and system time of a process, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name, which ends with the last `)`:
    // utime and stime are the 12th and 13th of them.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / per_second)
}
