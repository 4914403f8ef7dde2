//! The real magic-wormhole servers for tests: the mailbox server and the
//! transit relay from PyPI, run by twistd on loopback or inside a network
//! namespace, the relay behind a proxy of the test's own that records what
//! passes through it and can cut it.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{TestDir, inside};

/// The servers' versions, pinned to those the tests were written against.
const PACKAGES: [&str; 2] = [
    "magic-wormhole-mailbox-server==0.8.0",
    "magic-wormhole-transit-relay==0.5.0",
];

/// How long a server may take to listen (about a second here).
const START: Duration = Duration::from_secs(15);

/// How often a starting server is looked at.
const POLL: Duration = Duration::from_millis(25);

/// How many ports a server is offered before a test gives up: another
/// program may take a free port between our look and the server's bind.
const PORT_TRIES: usize = 5;

/// What the proxy keeps of the relayed bytes (counting goes on past it),
/// so a test that sends gigabytes through the relay does not keep them.
const RECORDED_AT_MOST: usize = 64 << 20;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A mailbox server and a transit relay with the recording proxy in front
/// of it, the mailbox and the proxy listening on one address. Dropping it
/// stops them and removes their folder.
pub struct Servers {
    address: String,
    mailbox: Twistd,
    // Listening on 127.0.0.1 where it runs, so that every connection to it
    // passes the proxy.
    _relay: Twistd,
    proxy: RelayProxy,
    // Last, so the servers are gone before their folder.
    _dir: TestDir,
}

impl Servers {
    /// Both servers on 127.0.0.1, at free ports.
    pub fn on_loopback() -> Servers {
        Servers::start(None, "127.0.0.1")
    }

    /// Both servers run in the network namespace `netns`, bound to
    /// `address` there.
    pub fn in_namespace(netns: &str, address: &str) -> Servers {
        Servers::start(Some(netns), address)
    }

    fn start(netns: Option<&str>, address: &str) -> Servers {
        let venv = venv();
        let dir = TestDir::new(&format!("wormhole-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
        let channels = format!("--channel-db={}", dir.join("channels.sqlite").display());
        let place = Place {
            venv,
            netns,
            dir: dir.path(),
        };
        // Side by side: each takes about a second to start.
        let (mailbox, relay) = thread::scope(|scope| {
            let mailbox = scope.spawn(|| {
                Twistd::start(&place, "mailbox", address, &["wormhole-mailbox", &channels])
            });
            let relay = Twistd::start(&place, "relay", "127.0.0.1", &["transitrelay"]);
            let mailbox = mailbox
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (mailbox, relay)
        });
        let upstream = SocketAddr::from(([127, 0, 0, 1], relay.port));
        let proxy = RelayProxy::start(netns, address, upstream);
        Servers {
            address: address.to_string(),
            mailbox,
            _relay: relay,
            proxy,
            _dir: dir,
        }
    }

    /// The mailbox server's URL, `ws://ADDRESS:PORT/v1`.
    pub fn mailbox_url(&self) -> String {
        format!("ws://{}:{}/v1", self.address, self.mailbox.port)
    }

    /// The transit relay (its proxy) as magic-wormhole writes it,
    /// `tcp:ADDRESS:PORT`.
    pub fn relay(&self) -> String {
        format!("tcp:{}", self.proxy.address)
    }

    /// Every byte that passed through the relay so far, both ways, in the
    /// order the proxy read them (the first 64 MiB of them).
    pub fn relayed_bytes(&self) -> Vec<u8> {
        self.proxy.passing.recorded.lock().unwrap().clone()
    }

    /// How many bytes passed through the relay so far, both ways.
    pub fn relayed_total(&self) -> u64 {
        self.proxy.passing.total.load(Ordering::SeqCst)
    }

    /// Closes every connection passing through the relay, as a relay that
    /// crashed would; connections made afterwards pass again.
    pub fn cut_relay(&self) {
        self.proxy.passing.cut();
    }
}

/// The Python environment with both servers, made once under the target
/// folder and kept there. A lock file keeps two test programs from making
/// it at once; a marker written last, naming the versions, tells a
/// complete one from one cut short or made for other versions.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the test folder is inside the target folder");
        let home = target.join("wormhole-servers");
        fs::create_dir_all(&home)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", home.display()));
        let lock = File::create(home.join("lock")).expect("cannot create the venv's lock file");
        // SAFETY: flock on a file this function holds open; closing it at
        // the end of the function releases the lock.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "cannot lock {}", home.display());
        let venv = home.join("venv");
        let marker = venv.join("complete");
        let pins = PACKAGES.join("\n");
        if fs::read_to_string(&marker).ok().as_deref() != Some(pins.as_str()) {
            make_venv(&venv);
            fs::write(&marker, &pins).expect("cannot mark the venv complete");
        }
        venv
    })
}

/// Makes the venv afresh and installs the servers into it from PyPI.
fn make_venv(venv: &Path) {
    let _ = fs::remove_dir_all(venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .output();
    check(
        made,
        "python3 -m venv (install python3 with its venv module)",
    );
    let installed = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .output();
    check(installed, "pip install of the magic-wormhole servers");
}

/// Fails the test, with what the program said, unless it succeeded.
fn check(output: std::io::Result<std::process::Output>, what: &str) {
    match output {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run {what}: {e}"),
    }
}

/// Where servers run: the venv, the namespace (none: the test's own) and
/// the folder for their logs and database.
struct Place<'a> {
    venv: &'static Path,
    netns: Option<&'a str>,
    dir: &'a Path,
}

/// One server run by twistd in the foreground; stopped when dropped.
struct Twistd {
    child: Child,
    port: u16,
}

impl Twistd {
    /// Starts twistd with `plugin` (its name and options) listening on
    /// `host` at a free port, and waits until it accepts connections.
    fn start(place: &Place, name: &str, host: &str, plugin: &[&str]) -> Twistd {
        let log = place.dir.join(format!("{name}.log"));
        let out = place.dir.join(format!("{name}.out"));
        for _ in 0..PORT_TRIES {
            let port = free_port(place.netns, host);
            let _ = fs::remove_file(&log);
            let mut command = match place.netns {
                Some(netns) => {
                    let mut command = Command::new("ip");
                    command.args(["netns", "exec", netns]);
                    command.arg(place.venv.join("bin/python"));
                    command
                }
                None => Command::new(place.venv.join("bin/python")),
            };
            let output = File::create(&out).expect("cannot create a server's output file");
            let child = command
                // The script, not its shebang: the Python is named above.
                .arg(place.venv.join("bin/twistd"))
                .args(["-n", "--pidfile=", "-l"])
                .arg(&log)
                .arg(plugin[0])
                .arg(format!("--port=tcp:{port}:interface={host}"))
                .args(&plugin[1..])
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("a second handle"))
                .stderr(output)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start the {name} server: {e}"));
            let mut server = Twistd { child, port };
            if server.wait_listening(place.netns, host, &log, &out) {
                return server;
            }
        }
        panic!("the {name} server found no free port in {PORT_TRIES} tries");
    }

    /// Waits until the server says it listens on its port and the port
    /// takes a connection; false if the port was taken.
    fn wait_listening(&mut self, netns: Option<&str>, host: &str, log: &Path, out: &Path) -> bool {
        let address: SocketAddr = format!("{host}:{}", self.port)
            .parse()
            .expect("an IPv4 address");
        let starting = format!(" starting on {}\n", self.port);
        let deadline = Instant::now() + START;
        let child = &mut self.child;
        inside::run_in(netns, || {
            loop {
                let said = fs::read_to_string(log).unwrap_or_default();
                if said.contains("CannotListenError") {
                    return false;
                }
                if said.contains(&starting)
                    && TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
                {
                    return true;
                }
                let exited = child.try_wait().ok().flatten();
                if exited.is_some() || Instant::now() > deadline {
                    let why = exited.map_or("did not listen within 15 s".to_string(), |status| {
                        format!("exited ({status})")
                    });
                    panic!(
                        "a magic-wormhole server on {address} {why}; its log ends:\n{}\n\
                         its output ends:\n{}",
                        tail(log),
                        tail(out)
                    );
                }
                thread::sleep(POLL);
            }
        })
    }
}

impl Drop for Twistd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Ends a server: SIGTERM, a moment to finish, then SIGKILL; and reaps it.
pub fn terminate(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: a signal to our own child, not yet reaped, so the pid
            // is still its.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(POLL);
        }
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A port free on `host` in `netns` a moment ago.
fn free_port(netns: Option<&str>, host: &str) -> u16 {
    inside::run_in(netns, || {
        let listener = TcpListener::bind((host, 0))
            .unwrap_or_else(|e| panic!("cannot find a free port on {host}: {e}"));
        listener.local_addr().expect("a bound address").port()
    })
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A TCP proxy in front of the relay, on threads of the test process:
/// it forwards each connection to the relay and records what passes.
struct RelayProxy {
    address: SocketAddr,
    listener: TcpListener,
    passing: Arc<Passing>,
    acceptor: Option<JoinHandle<()>>,
}

/// What the proxy's threads share.
#[derive(Default)]
struct Passing {
    recorded: Mutex<Vec<u8>>,
    total: AtomicU64,
    /// Both sockets of every connection forwarded, for cutting them.
    open: Mutex<Vec<TcpStream>>,
    pumps: Mutex<Vec<JoinHandle<()>>>,
    stopping: AtomicBool,
}

impl RelayProxy {
    /// Listens on `host` (in `netns`) at a free port and forwards to `relay`.
    fn start(netns: Option<&str>, host: &str, relay: SocketAddr) -> RelayProxy {
        let listener = inside::run_in(netns, || {
            TcpListener::bind((host, 0))
                .unwrap_or_else(|e| panic!("cannot listen for the relay's proxy on {host}: {e}"))
        });
        let address = listener.local_addr().expect("a bound address");
        let passing = Arc::new(Passing::default());
        let accepting = listener.try_clone().expect("a second handle");
        let (shared, netns) = (Arc::clone(&passing), netns.map(str::to_string));
        let acceptor = thread::spawn(move || {
            // The relay listens on the namespace's loopback: connect from there.
            if let Some(netns) = netns {
                inside::enter(&netns);
            }
            for client in accepting.incoming() {
                match client {
                    Ok(client) => shared.forward(client, relay),
                    Err(_) if shared.stopping.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
        });
        RelayProxy {
            address,
            listener,
            passing,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for RelayProxy {
    fn drop(&mut self) {
        self.passing.stopping.store(true, Ordering::SeqCst);
        // SAFETY: shutdown on a socket this struct owns; it wakes the
        // accepting thread, whose accept then fails.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.passing.cut();
        let pumps = std::mem::take(&mut *self.passing.pumps.lock().unwrap());
        for pump in pumps {
            let _ = pump.join();
        }
    }
}

impl Passing {
    /// Connects `client` to the relay, one thread for each direction.
    fn forward(self: &Arc<Self>, client: TcpStream, relay: SocketAddr) {
        let Ok(upstream) = TcpStream::connect(relay) else {
            return;
        };
        let (Ok(client_too), Ok(upstream_too)) = (client.try_clone(), upstream.try_clone()) else {
            return;
        };
        {
            let mut open = self.open.lock().unwrap();
            for socket in [&client, &upstream] {
                open.push(socket.try_clone().expect("a second handle"));
            }
        }
        let mut pumps = self.pumps.lock().unwrap();
        for (from, to) in [(client, upstream), (upstream_too, client_too)] {
            let passing = Arc::clone(self);
            pumps.push(thread::spawn(move || passing.pump(from, to)));
        }
    }

    /// Copies `from` to `to`, recording, until `from` ends; an end is
    /// passed on as the same end.
    fn pump(&self, mut from: TcpStream, mut to: TcpStream) {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) => {
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
                Ok(n) => {
                    self.record(&buf[..n]);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    }

    fn record(&self, bytes: &[u8]) {
        self.total.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        let mut recorded = self.recorded.lock().unwrap();
        let room = RECORDED_AT_MOST.saturating_sub(recorded.len());
        recorded.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Shuts down both sockets of every connection forwarded so far.
    fn cut(&self) {
        for socket in self.open.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}
