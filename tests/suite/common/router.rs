//! A home network of its own for a test: a host behind a router that does
//! NAT and runs miniupnpd (UPnP-IGD and NAT-PMP), and a "public" network
//! on the router's outside, each a network namespace. miniupnpd refuses
//! private outside addresses, so the outside is 11.0.0.0/24, which exists
//! only in here. Making one needs root, `ip`, `iptables-legacy` and
//! `miniupnpd` (Debian's miniupnpd-iptables, which drives the legacy
//! tables); where it cannot be made, a test is skipped with a line saying
//! why, except under CI, where it fails.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use super::TIMEOUT;
use super::inside::run_in;
use super::netns::cannot;

/// The router's outside address.
pub const ROUTER_OUTSIDE: Ipv4Addr = Ipv4Addr::new(11, 0, 0, 11);
/// The address of the "public" namespace, where connections from the
/// internet come from.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(11, 0, 0, 1);

/// What the router answers: a router may speak one protocol and not the
/// other. The one it does not speak is closed by the router's firewall,
/// as it would be on a router without it: NAT-PMP's port answers that it
/// is closed (ICMP), UPnP's searches get no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offers {
    Both,
    NatPmpOnly,
    UpnpOnly,
}

/// The three namespaces and the router's miniupnpd. Dropping it stops
/// miniupnpd and removes the namespaces, with every link and rule in them.
pub struct HomeNetwork {
    pub public: String,
    pub router: String,
    pub host: String,
    miniupnpd: Option<Child>,
    /// What miniupnpd said, a line each, and a sign for each new line.
    said: Arc<(Mutex<Vec<String>>, Condvar)>,
    dir: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl HomeNetwork {
    /// A new home network with miniupnpd ready, or `None` (said on stderr)
    /// where one cannot be made; under CI, a test failure instead.
    pub fn new(offers: Offers) -> Option<HomeNetwork> {
        for (tool, package) in [
            ("miniupnpd", "miniupnpd-iptables"),
            ("iptables-legacy", "iptables"),
        ] {
            if Command::new(tool).arg("--version").output().is_err() {
                return cannot(&format!("cannot run `{tool}`; install {package}"));
            }
        }
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = std::process::id() % 10_000;
        let name = |role: &str| format!("chat-{id}-{n}{role}");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("router-{id}-{n}"));
        // Made first, so that a step failing half way removes what was made.
        let mut home = HomeNetwork {
            public: name("pub"),
            router: name("r"),
            host: name("h"),
            miniupnpd: None,
            said: Arc::default(),
            dir,
        };
        for step in home.steps(&format!("cr{id}x{n}"), offers) {
            let out = Command::new(&step[0]).args(&step[1..]).output();
            match out {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return cannot(&format!(
                        "cannot make a test network (`{}`: {}); run as root",
                        step.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(e) => return cannot(&format!("cannot run `{}` ({e})", step[0])),
            }
        }
        home.start_miniupnpd();
        Some(home)
    }

    /// The commands that make the network: the namespaces and their links,
    /// the router's NAT (in the legacy tables, where miniupnpd adds its
    /// forwards) and its firewall for what it does not offer.
    fn steps(&self, link: &str, offers: Offers) -> Vec<Vec<String>> {
        let (public, router, host) = (&self.public, &self.router, &self.host);
        let (wan, wan_peer) = (format!("{link}w"), format!("{link}p"));
        let (lan, lan_peer) = (format!("{link}l"), format!("{link}h"));
        let mut steps = vec![
            format!("ip netns add {public}"),
            format!("ip netns add {router}"),
            format!("ip netns add {host}"),
            format!("ip link add {wan} type veth peer name {wan_peer}"),
            format!("ip link set {wan} netns {router}"),
            format!("ip link set {wan_peer} netns {public}"),
            format!("ip link add {lan} type veth peer name {lan_peer}"),
            format!("ip link set {lan} netns {router}"),
            format!("ip link set {lan_peer} netns {host}"),
            format!("ip -n {router} link set {wan} name wan"),
            format!("ip -n {router} link set {lan} name lan"),
            format!("ip -n {public} link set {wan_peer} name eth0"),
            format!("ip -n {host} link set {lan_peer} name eth0"),
            format!("ip -n {public} addr add {PUBLIC}/24 dev eth0"),
            format!("ip -n {router} addr add {ROUTER_OUTSIDE}/24 dev wan"),
            format!("ip -n {router} addr add 192.168.1.1/24 dev lan"),
            format!("ip -n {host} addr add 192.168.1.2/24 dev eth0"),
        ];
        for (ns, dev) in [
            (public, "lo"),
            (public, "eth0"),
            (router, "lo"),
            (router, "wan"),
            (router, "lan"),
            (host, "lo"),
            (host, "eth0"),
        ] {
            steps.push(format!("ip -n {ns} link set {dev} up"));
        }
        steps.push(format!("ip -n {router} route add default via {PUBLIC}"));
        steps.push(format!("ip -n {host} route add default via 192.168.1.1"));
        let iptables = format!("ip netns exec {router} iptables-legacy");
        for rule in firewall(offers) {
            steps.push(format!("{iptables} {rule}"));
        }
        let mut steps: Vec<Vec<String>> = steps
            .iter()
            .map(|step| step.split_whitespace().map(String::from).collect())
            .collect();
        // Without sysctl (procps), which a small system may not have.
        let forward = "echo 1 >/proc/sys/net/ipv4/ip_forward";
        steps.push(
            ["ip", "netns", "exec", router, "sh", "-c", forward]
                .map(String::from)
                .to_vec(),
        );
        steps
    }

    /// Starts miniupnpd in the router and waits until it listens: its
    /// NAT-PMP line comes after its UPnP sockets are open.
    fn start_miniupnpd(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("a folder for miniupnpd");
        let config = self.dir.join("miniupnpd.conf");
        std::fs::write(&config, MINIUPNPD_CONF).expect("miniupnpd's configuration");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.router, "miniupnpd", "-d", "-f"])
            .arg(&config)
            .arg("-P")
            .arg(self.dir.join("miniupnpd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start miniupnpd");
        let stderr = child.stderr.take().expect("miniupnpd's stderr");
        self.miniupnpd = Some(child);
        let (ready, listening) = mpsc::channel();
        let said = Arc::clone(&self.said);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Listening for NAT-PMP/PCP traffic") {
                    let _ = ready.send(());
                }
                let (lines, more) = &*said;
                lines.lock().unwrap().push(line);
                more.notify_all();
            }
        });
        if listening.recv_timeout(TIMEOUT).is_err() {
            panic!("miniupnpd did not start; it said:\n{}", self.log());
        }
    }

    /// What miniupnpd said so far, a line each.
    pub fn log(&self) -> String {
        self.said.0.lock().unwrap().join("\n")
    }

    /// Waits until miniupnpd has said a line containing `words` (it says
    /// what it does with each request).
    pub fn wait_for_log(&self, words: &str) {
        let (lines, more) = &*self.said;
        let (lines, waited) = more
            .wait_timeout_while(lines.lock().unwrap(), TIMEOUT, |lines| {
                !lines.iter().any(|line| line.contains(words))
            })
            .unwrap();
        if waited.timed_out() {
            panic!(
                "miniupnpd did not say {words:?}; it said:\n{}",
                lines.join("\n")
            );
        }
    }

    /// The outside ports the router forwards now (miniupnpd's DNAT rules).
    pub fn forwarded_ports(&self) -> Vec<u16> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.router, "iptables-legacy"])
            .args(["-t", "nat", "-S", "MINIUPNPD"])
            .output()
            .expect("cannot list the router's forwards");
        assert!(out.status.success(), "iptables-legacy failed: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|rule| {
                let port = rule.split(" --dport ").nth(1)?;
                port.split_whitespace().next()?.parse().ok()
            })
            .collect()
    }

    /// Runs `work` on a thread inside the host behind the router; threads
    /// it starts stay there too.
    pub fn in_host<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        run_in(Some(&self.host), work)
    }

    /// Runs `work` on a thread inside the public network.
    pub fn in_public<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        run_in(Some(&self.public), work)
    }
}

/// The router's rules in the legacy tables: its NAT, miniupnpd's chains
/// hooked in where Debian's iptables_init.sh would hook them, nothing let
/// in from outside but what miniupnpd forwards, and the protocol it does
/// not offer closed.
fn firewall(offers: Offers) -> Vec<&'static str> {
    let mut rules = vec![
        "-t nat -N MINIUPNPD",
        "-t nat -A PREROUTING -i wan -j MINIUPNPD",
        "-t nat -N MINIUPNPD-POSTROUTING",
        "-t nat -A POSTROUTING -o wan -j MINIUPNPD-POSTROUTING",
        "-t nat -A POSTROUTING -o wan -j MASQUERADE",
        "-N MINIUPNPD",
        "-A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-A FORWARD -i wan ! -o wan -j MINIUPNPD",
        "-A FORWARD -i wan -o lan -j DROP",
    ];
    match offers {
        Offers::Both => {}
        Offers::NatPmpOnly => rules.push("-A INPUT -i lan -p udp --dport 1900 -j DROP"),
        Offers::UpnpOnly => rules.push("-A INPUT -i lan -p udp --dport 5351 -j REJECT"),
    }
    rules
}

/// miniupnpd as a home router runs it: forwards asked for by hosts on the
/// inside for themselves only, to ports above 1023.
const MINIUPNPD_CONF: &str = "\
ext_ifname=wan
listening_ip=lan
http_port=2189
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 192.168.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
";

impl Drop for HomeNetwork {
    fn drop(&mut self) {
        if let Some(mut miniupnpd) = self.miniupnpd.take() {
            let _ = miniupnpd.kill();
            let _ = miniupnpd.wait();
        }
        for ns in [&self.public, &self.router, &self.host] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
