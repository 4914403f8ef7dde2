//! A small internet of a test's own, in network namespaces: a public
//! network with the magic-wormhole servers on it, and two homes, each a
//! host behind a router that does NAT as a home router does, the first
//! router optionally granting port mappings (UPnP-IGD and NAT-PMP) with
//! miniupnpd. Making one needs root, `ip` (iproute2), `iptables-legacy`
//! and, for port mappings, `miniupnpd` (its iptables variant); where they
//! are missing a test is skipped with a line saying why, except under CI,
//! where it fails.
//!
//! ```text
//!  pub  11.0.0.1/24 (bridge): mailbox server, transit relay (its proxy)
//!   ├─ r1  wan 11.0.0.11 ─ NAT ─ lan 192.168.1.1 ── h1 192.168.1.2
//!   └─ r2  wan 11.0.0.12 ─ NAT ─ lan 192.168.2.1 ── h2 192.168.2.2
//! ```
//!
//! The "public" range is not a private one because miniupnpd refuses to
//! map ports behind a private or reserved WAN address. Each internet's
//! namespaces are named `chat-PID-N-…`; its interfaces are made inside
//! them, so their names only need to be unique per namespace, and every
//! internet uses the same addresses.

use std::fs::{self, File};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::netns::cannot;
use super::wormhole::{self, Servers};
use super::{TestDir, inside};

/// What an internet has beyond the plain one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Whether `r1` runs miniupnpd, so that `h1` can ask it for a port.
    pub upnp: bool,
}

/// The namespaces, the servers in `pub` and miniupnpd in `r1`. Dropping it
/// stops them and deletes every namespace, however far it was made.
pub struct Internet {
    names: Names,
    made: Vec<String>,
    servers: Option<Servers>,
    miniupnpd: Option<Child>,
    dir: TestDir,
}

struct Names {
    public: String,
    routers: [String; 2],
    hosts: [String; 2],
}

/// The address of `pub` on its network, where the servers listen.
const PUBLIC: &str = "11.0.0.1";

/// miniupnpd's web port for UPnP-IGD.
const UPNP_HTTP_PORT: u16 = 2189;

/// Where `r1` answers NAT-PMP (and PCP) for `h1`.
const NAT_PMP: &str = "192.168.1.1:5351";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Why an internet could not be made.
enum Unable {
    /// Not root, or a tool is missing: the test is skipped (failed under CI).
    Cannot(String),
    /// A step failed that should not have: the test fails.
    Failed(String),
}

impl Internet {
    /// A new internet, or `None` (said on stderr) where it cannot be made
    /// here; under CI, a test failure instead.
    pub fn new(options: Options) -> Option<Internet> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("chat-{}-{n}-", std::process::id());
        let name = |part: &str| format!("{prefix}{part}");
        // Made first and filled in, so that a step failing half way (or a
        // panic) removes what was made.
        let mut internet = Internet {
            names: Names {
                public: name("pub"),
                routers: [name("r1"), name("r2")],
                hosts: [name("h1"), name("h2")],
            },
            made: Vec::new(),
            servers: None,
            miniupnpd: None,
            dir: TestDir::new(&format!("internet-{n}")),
        };
        match internet.build(options) {
            Ok(()) => Some(internet),
            Err(Unable::Cannot(why)) => cannot(&why),
            Err(Unable::Failed(why)) => panic!("cannot make a test internet: {why}"),
        }
    }

    fn build(&mut self, options: Options) -> Result<(), Unable> {
        let mut tools = vec!["ip", "iptables-legacy"];
        if options.upnp {
            tools.push("miniupnpd");
        }
        if let Some(tool) = tools.iter().find(|tool| !on_path(tool)) {
            return Err(Unable::Cannot(format!(
                "`{tool}` is missing; install iproute2, iptables and miniupnpd-iptables"
            )));
        }
        self.add_namespaces()?;
        self.wire_public()?;
        for home in 1..=2 {
            self.wire_home(home)?;
            self.guard_home(home)?;
        }
        self.servers = Some(Servers::in_namespace(&self.names.public, PUBLIC));
        if options.upnp {
            self.start_miniupnpd()?;
        }
        Ok(())
    }

    fn add_namespaces(&mut self) -> Result<(), Unable> {
        let names = self.names.all();
        for (i, netns) in names.iter().enumerate() {
            // A crashed run of a process with the same id may have left it.
            let _ = ip(&["netns", "del", netns]);
            if let Err(why) = ip(&["netns", "add", netns]) {
                // Only root makes namespaces: the first failing says so.
                return Err(match i {
                    0 => Unable::Cannot(format!("{why}; run as root")),
                    _ => Unable::Failed(why),
                });
            }
            self.made.push(netns.clone());
            ip(&["-n", netns, "link", "set", "lo", "up"]).map_err(Unable::Failed)?;
        }
        Ok(())
    }

    fn wire_public(&self) -> Result<(), Unable> {
        let public = &self.names.public;
        [
            format!("-n {public} link add br0 type bridge"),
            format!("-n {public} addr add {PUBLIC}/24 dev br0"),
            format!("-n {public} link set br0 up"),
        ]
        .iter()
        .try_for_each(|step| ip_line(step))
    }

    /// Home `home` (1 or 2): a router with a WAN port on `pub`'s bridge and
    /// a LAN port to its host, and the host with the router as its way out.
    fn wire_home(&self, home: usize) -> Result<(), Unable> {
        let (public, router, host) = (&self.names.public, self.router(home), self.host(home));
        let (wan, lan) = (self.wan_address(home), format!("192.168.{home}.1"));
        let host_address = self.host_address(home);
        [
            format!("-n {router} link add wan type veth peer name home{home} netns {public}"),
            format!("-n {router} link add lan type veth peer name eth0 netns {host}"),
            format!("-n {public} link set home{home} master br0 up"),
            format!("-n {router} addr add {wan}/24 dev wan"),
            format!("-n {router} addr add {lan}/24 dev lan"),
            format!("-n {router} link set wan up"),
            format!("-n {router} link set lan up"),
            format!("-n {router} route add default via {PUBLIC}"),
            format!("-n {host} addr add {host_address}/24 dev eth0"),
            format!("-n {host} link set eth0 up"),
            format!("-n {host} route add default via {lan}"),
        ]
        .iter()
        .try_for_each(|step| ip_line(step))?;
        // A thread in the namespace sees the namespace's own settings here.
        inside::run_in(Some(router), || {
            fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        })
        .map_err(|e| Unable::Failed(format!("cannot make {router} forward: {e}")))
    }

    /// The router of home `home` hides its LAN behind its WAN address and
    /// lets in from the WAN only what answers a connection made from the
    /// LAN. With legacy iptables, since miniupnpd's iptables variant adds
    /// its mappings to the legacy tables.
    fn guard_home(&self, home: usize) -> Result<(), Unable> {
        [
            "-t nat -A POSTROUTING -o wan -j MASQUERADE",
            "-A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "-A FORWARD -i wan -o lan -j DROP",
        ]
        .iter()
        .try_for_each(|rule| self.iptables(home, rule))
    }

    /// The chains miniupnpd adds its mappings to, hooked in first as
    /// miniupnpd's own `iptables_init.sh` does.
    fn add_mapping_chains(&self, home: usize) -> Result<(), Unable> {
        [
            "-t nat -N MINIUPNPD",
            "-t nat -I PREROUTING -i wan -j MINIUPNPD",
            "-t mangle -N MINIUPNPD",
            "-t mangle -I PREROUTING -i wan -j MINIUPNPD",
            "-t filter -N MINIUPNPD",
            "-t filter -I FORWARD -i wan ! -o wan -j MINIUPNPD",
            "-t nat -N MINIUPNPD-POSTROUTING",
            "-t nat -I POSTROUTING -o wan -j MINIUPNPD-POSTROUTING",
        ]
        .iter()
        .try_for_each(|rule| self.iptables(home, rule))
    }

    fn iptables(&self, home: usize, rule: &str) -> Result<(), Unable> {
        ip_line(&format!(
            "netns exec {} iptables-legacy -w {rule}",
            self.router(home)
        ))
    }

    /// Runs miniupnpd in `r1`, granting `h1`'s LAN any port from 1024 up,
    /// and waits until it answers `h1`.
    fn start_miniupnpd(&mut self) -> Result<(), Unable> {
        self.add_mapping_chains(1)?;
        let conf = self.dir.join("miniupnpd.conf");
        let log = self.dir.join("miniupnpd.log");
        fs::write(&conf, miniupnpd_conf()).expect("cannot write miniupnpd's configuration");
        let output = File::create(&log).expect("cannot create miniupnpd's log");
        let child = Command::new("ip")
            .args(["netns", "exec", self.router(1), "miniupnpd", "-d", "-f"])
            .arg(&conf)
            // Its own pid file: the default one is the machine's.
            .arg("-P")
            .arg(self.dir.join("miniupnpd.pid"))
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("a second handle"))
            .stderr(output)
            .spawn()
            .map_err(|e| Unable::Failed(format!("cannot start miniupnpd: {e}")))?;
        let miniupnpd = self.miniupnpd.insert(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        inside::run_in(Some(&self.names.hosts[0]), || {
            let gateway = UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
            gateway.connect(NAT_PMP).expect("the gateway's address");
            gateway
                .set_read_timeout(Some(Duration::from_millis(100)))
                .expect("a read timeout");
            loop {
                // RFC 6886 3.2: a request for the public address, answered
                // only once miniupnpd's loop runs, after its UPnP port is open.
                let _ = gateway.send(&[0, 0]);
                if let Ok(12) = gateway.recv(&mut [0; 16]) {
                    return Ok(());
                }
                if miniupnpd.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    return Err(Unable::Failed(format!(
                        "miniupnpd did not start; its log ends:\n{}",
                        wormhole::tail(&log)
                    )));
                }
                // An early request is refused at once (no socket yet): wait
                // before the next.
                thread::sleep(Duration::from_millis(25));
            }
        })
    }
}

/// miniupnpd's settings for `r1`: UPnP-IGD and NAT-PMP (with PCP) on the
/// LAN, mapping only to the address asking, ports 1024 and up.
fn miniupnpd_conf() -> String {
    [
        "ext_ifname=wan",
        "listening_ip=lan",
        &format!("http_port={UPNP_HTTP_PORT}"),
        "enable_natpmp=yes",
        "enable_upnp=yes",
        "secure_mode=yes",
        "system_uptime=yes",
        "uuid=5c1b2a0e-22ca-4f0e-9d3a-2b1e2a0c1a01",
        "allow 1024-65535 192.168.1.0/24 1024-65535",
        "deny 0-65535 0.0.0.0/0 0-65535",
        "",
    ]
    .join("\n")
}

impl Internet {
    /// The namespace of the host in home 1.
    pub fn h1_ns(&self) -> &str {
        self.host(1)
    }

    /// The namespace of the host in home 2.
    pub fn h2_ns(&self) -> &str {
        self.host(2)
    }

    /// The namespace of the public network, where the servers run.
    pub fn pub_ns(&self) -> &str {
        &self.names.public
    }

    /// The servers' address on the public network, 11.0.0.1.
    pub fn pub_address(&self) -> &str {
        PUBLIC
    }

    /// `h1`'s address on its LAN, 192.168.1.2.
    pub fn h1_address(&self) -> String {
        self.host_address(1)
    }

    /// `h2`'s address on its LAN, 192.168.2.2.
    pub fn h2_address(&self) -> String {
        self.host_address(2)
    }

    /// The public address of home `home`'s router (1 or 2): 11.0.0.11 or
    /// 11.0.0.12, what the servers see its host's connections come from.
    pub fn wan_address(&self, home: usize) -> String {
        assert!(matches!(home, 1 | 2), "there are homes 1 and 2, not {home}");
        format!("11.0.0.1{home}")
    }

    /// The mailbox server's URL, `ws://11.0.0.1:PORT/v1`.
    pub fn mailbox_url(&self) -> String {
        self.servers().mailbox_url()
    }

    /// The transit relay (its recording proxy), `tcp:11.0.0.1:PORT`.
    pub fn relay(&self) -> String {
        self.servers().relay()
    }

    /// See [`Servers::relayed_bytes`].
    pub fn relayed_bytes(&self) -> Vec<u8> {
        self.servers().relayed_bytes()
    }

    /// See [`Servers::relayed_total`].
    pub fn relayed_total(&self) -> u64 {
        self.servers().relayed_total()
    }

    /// See [`Servers::cut_relay`].
    pub fn cut_relay(&self) {
        self.servers().cut_relay();
    }

    fn servers(&self) -> &Servers {
        self.servers.as_ref().expect("the servers run once made")
    }

    fn router(&self, home: usize) -> &str {
        &self.names.routers[home - 1]
    }

    fn host(&self, home: usize) -> &str {
        &self.names.hosts[home - 1]
    }

    fn host_address(&self, home: usize) -> String {
        format!("192.168.{home}.2")
    }
}

impl Names {
    fn all(&self) -> Vec<String> {
        let mut all = vec![self.public.clone()];
        all.extend(self.routers.iter().cloned());
        all.extend(self.hosts.iter().cloned());
        all
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        if let Some(mut miniupnpd) = self.miniupnpd.take() {
            wormhole::terminate(&mut miniupnpd);
            // Its log goes with the folder: a failing test shows it first.
            if thread::panicking() {
                let log = wormhole::tail(&self.dir.join("miniupnpd.log"));
                eprintln!("miniupnpd's log ends:\n{log}");
            }
        }
        self.servers = None;
        for netns in self.made.drain(..).rev() {
            let _ = Command::new("ip").args(["netns", "del", &netns]).output();
        }
    }
}

/// Runs `ip ARGS...`; its error output if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "`ip {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Runs `ip` with the words of `line` (names and addresses here hold no
/// spaces); a failure fails the test.
fn ip_line(line: &str) -> Result<(), Unable> {
    ip(&line.split_whitespace().collect::<Vec<_>>()).map_err(Unable::Failed)
}

/// Whether `tool` is a program on the `PATH`.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}
