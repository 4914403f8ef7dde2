//! A local network of its own for a test: two network namespaces joined by
//! a veth pair, where chats announce themselves, find each other and take
//! the ports they like (5050 too) without meeting anything else on the
//! machine. Making one needs root and `ip` (iproute2); where it cannot be
//! made, a test is skipped with a line saying why, except under CI (the
//! `CI` environment variable set), where it fails instead of passing
//! silently.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Two network namespaces joined by a veth pair: `a` at 10.X.Y.1, `b` at
/// 10.X.Y.2, loopback up in each. Dropping it removes both (and the pair
/// with them).
pub struct Lan {
    pub a: String,
    pub b: String,
    pub a_address: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Lan {
    /// A new LAN, or `None` (said on stderr) where namespaces cannot be
    /// made; under CI, a test failure instead.
    pub fn new() -> Option<Lan> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = std::process::id() % 10_000;
        let (a, b) = (format!("chat-{id}-{n}a"), format!("chat-{id}-{n}b"));
        let (veth_a, veth_b) = (format!("cv{id}x{n}a"), format!("cv{id}x{n}b"));
        let subnet = format!("10.{}.{}", 100 + id % 100, n % 250);
        // Made first, so that a step failing half way removes what was made.
        let lan = Lan {
            a: a.clone(),
            b: b.clone(),
            a_address: format!("{subnet}.1"),
        };
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &a],
            vec!["netns", "add", &b],
            vec![
                "link", "add", &veth_a, "type", "veth", "peer", "name", &veth_b,
            ],
            vec!["link", "set", &veth_a, "netns", &a],
            vec!["link", "set", &veth_b, "netns", &b],
        ];
        let address_a = format!("{subnet}.1/24");
        let address_b = format!("{subnet}.2/24");
        let inside: Vec<Vec<&str>> = vec![
            vec!["-n", &a, "addr", "add", &address_a, "dev", &veth_a],
            vec!["-n", &b, "addr", "add", &address_b, "dev", &veth_b],
            vec!["-n", &a, "link", "set", "lo", "up"],
            vec!["-n", &b, "link", "set", "lo", "up"],
            vec!["-n", &a, "link", "set", &veth_a, "up"],
            vec!["-n", &b, "link", "set", &veth_b, "up"],
        ];
        for step in steps.iter().chain(&inside) {
            match Command::new("ip").args(step).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return cannot(&format!(
                        "cannot make a test network (`ip {}`: {}); run as root with \
                         iproute2",
                        step.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(e) => {
                    return cannot(&format!(
                        "cannot run `ip` ({e}); install iproute2 and run as root"
                    ));
                }
            }
        }
        Some(lan)
    }

    /// Checks that `chat peers --wait SECS`, run in `b`, hears nobody.
    pub fn assert_none_listed(&self, secs: &str) {
        assert_eq!(
            self.peers(&["--wait", secs]),
            "No chats announce themselves on this network.\n"
        );
    }

    /// `chat peers ARGS...` run in namespace `b`: its standard output.
    pub fn peers(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.b,
                env!("CARGO_BIN_EXE_chat"),
                "peers",
            ])
            .args(args)
            .output()
            .expect("cannot run chat peers");
        assert!(out.status.success(), "chat peers failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A chat announced straight through multicast DNS from inside `a`, as anyone on a
/// network may announce one, whatever its name holds. Withdrawn when dropped.
pub struct RawAnnouncement {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Lan {
    /// Announces a chat called `name` at `a`'s address and `port`. The announcing
    /// thread moves into `a` first; the multicast DNS daemon it starts runs there too.
    pub fn announce_raw(&self, name: &str, port: u16) -> RawAnnouncement {
        let (netns, address, name) = (self.a.clone(), self.a_address.clone(), name.to_string());
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (ready, announced) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let file = std::fs::File::open(format!("/run/netns/{netns}"))
                .unwrap_or_else(|e| panic!("cannot open namespace {netns}: {e}"));
            let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
            // SAFETY: setns on a namespace file this thread keeps open; only this
            // thread moves.
            let moved = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
            assert_eq!(
                moved,
                0,
                "cannot enter {netns}: {}",
                std::io::Error::last_os_error()
            );
            let daemon = mdns_sd::ServiceDaemon::new().expect("multicast DNS");
            let properties = [
                ("v", "1"),
                ("wire", "encrypted"),
                ("room", "no"),
                ("code", "no"),
            ];
            let info = mdns_sd::ServiceInfo::new(
                "_chat._tcp.local.",
                &name,
                "raw-announcer.local.",
                address.as_str(),
                port,
                &properties[..],
            )
            .expect("a service record");
            daemon.register(info).expect("announced");
            let _ = ready.send(());
            let _ = stopped.recv();
            if let Ok(done) = daemon.shutdown() {
                let _ = done.recv_timeout(std::time::Duration::from_secs(1));
            }
        });
        announced
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the raw announcement started");
        RawAnnouncement {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for RawAnnouncement {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Lan {
    /// Makes `name` a host name of `a`'s address for programs run in `b`: `ip netns
    /// exec` puts `/etc/netns/B/hosts` in place of `/etc/hosts`.
    pub fn name_a_in_b(&self, name: &str) {
        let dir = format!("/etc/netns/{}", self.b);
        std::fs::create_dir_all(&dir).expect("cannot make /etc/netns/B");
        let hosts = format!("127.0.0.1 localhost\n{} {name}\n", self.a_address);
        std::fs::write(format!("{dir}/hosts"), hosts).expect("cannot write B's hosts");
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{ns}"));
        }
    }
}

/// A test that cannot run here: skipped with `why` said, or, under CI,
/// failed, since a test that passes without running proves nothing.
pub fn cannot<T>(why: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{why}; under CI (CI is set) this test must run");
    }
    eprintln!("skipped: {why} to run this test");
    None
}
