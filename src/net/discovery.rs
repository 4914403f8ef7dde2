//! Finding each other on the local network without typed addresses: a
//! listening chat announces itself with DNS-SD over multicast DNS
//! (`_chat._tcp.local.`, the user's name as the instance, a few TXT keys),
//! and `chat peers` or `chat connect NAME` look for announcements (the
//! latter as long as `--wait` allows). The multicast DNS daemon runs on a
//! thread of its own.
//!
//! Anyone on the network can announce any name: what is found is only an
//! address to try. The safety code, or `--code`, proves who answers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use mdns_sd::{DaemonEvent, ServiceDaemon, ServiceEvent, ServiceInfo};

use crate::net::patience::{Patience, Trying};

/// The service type chats announce.
pub const SERVICE: &str = "_chat._tcp.local.";

/// How long a listener looks for chats of its own name before announcing.
const NAME_CHECK: Duration = Duration::from_secs(1);

/// How long an announcement's withdrawal may take before the program goes
/// on leaving.
const WITHDRAW_WITHIN: Duration = Duration::from_secs(1);

/// What a listening chat says of itself, beside its name and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traits {
    pub encrypted: bool,
    pub room: bool,
    /// Whether joining takes a `--code`.
    pub code: bool,
}

/// A chat found on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    /// The machine it runs on, as it names itself: with the port, what
    /// tells two chats of the same name apart.
    pub host: String,
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    pub traits: Traits,
}

/// A chat's announcement on the network; dropping it withdraws it.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
    /// The name it went out under: the user's, or `NAME (2)` when another
    /// chat on the network has that one already.
    pub name: String,
    /// Watches for the network renaming it; ends with the daemon.
    watching: Option<JoinHandle<()>>,
}

impl Announcement {
    /// Announces `name` listening on `port`, on every interface with an
    /// address. Two chats may not share an instance name on the network
    /// (multicast DNS would take them for one), so a name someone else
    /// announces already is numbered, as DNS-SD does: `alice (2)`. Two
    /// announcing one name at the same moment find out only afterwards,
    /// when multicast DNS renames one of them: `renamed` then hears the
    /// name it went out under and the new one.
    pub fn start(
        name: &str,
        port: u16,
        traits: Traits,
        renamed: impl Fn(&str, &str) + Send + 'static,
    ) -> Result<Self> {
        let taken: Vec<String> = look(NAME_CHECK, |_| false, Duration::ZERO)?
            .into_iter()
            .map(|f| f.name.to_lowercase())
            .collect();
        let name = (1..)
            .map(|n| match n {
                1 => name.to_string(),
                n => format!("{name} ({n})"),
            })
            .find(|candidate| !taken.contains(&candidate.to_lowercase()))
            .unwrap_or_else(|| name.to_string());
        let daemon = ServiceDaemon::new().context("cannot start multicast DNS")?;
        let info = describe(&name, port, traits)?;
        let fullname = info.get_fullname().to_string();
        // Watched before announcing, so that no renaming goes unheard.
        let changes = daemon
            .monitor()
            .context("cannot announce this chat on the network")?;
        daemon
            .register(info)
            .context("cannot announce this chat on the network")?;
        let watching = watch_renames(changes, fullname.clone(), renamed)
            .context("cannot start watching the announcement")?;
        Ok(Self {
            daemon,
            fullname,
            name,
            watching: Some(watching),
        })
    }
}

/// The service record of a chat called `name` listening on `port`.
fn describe(name: &str, port: u16, traits: Traits) -> Result<ServiceInfo> {
    let host = host_name();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let properties = [
        ("v", "1"),
        (
            "wire",
            if traits.encrypted {
                "encrypted"
            } else {
                "plain"
            },
        ),
        ("room", yes_no(traits.room)),
        ("code", yes_no(traits.code)),
    ];
    let info = ServiceInfo::new(
        SERVICE,
        name,
        &format!("{host}.local."),
        "",
        port,
        &properties[..],
    )
    .context("cannot describe this chat for multicast DNS")?
    .enable_addr_auto();
    Ok(info)
}

/// Tells `renamed` each new name multicast DNS gives the announcement
/// `fullname` (with the name it had) when another on the network answers
/// for its name (RFC 6762, section 9), until the daemon stops.
fn watch_renames(
    changes: mdns_sd::Receiver<DaemonEvent>,
    fullname: String,
    renamed: impl Fn(&str, &str) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("announcement".into())
        .spawn(move || {
            let was = instance_name(&fullname).unwrap_or_default();
            let mut told = Vec::new();
            for event in changes.iter() {
                let DaemonEvent::NameChange(change) = event else {
                    continue;
                };
                // Its host name may be renamed too, which nobody types.
                if change.original != fullname {
                    continue;
                }
                // Said once, however many interfaces and records it hears of.
                if let Some(name) = instance_name(&change.new_name)
                    && !told.contains(&name)
                {
                    renamed(&was, &name);
                    told.push(name);
                }
            }
        })
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(WITHDRAW_WITHIN);
        }
        // The watcher ends once the daemon has: joined only then, so that a
        // daemon slow to stop does not hold the program up.
        let stopped = match self.daemon.shutdown() {
            Ok(done) => done.recv_timeout(WITHDRAW_WITHIN).is_ok(),
            Err(_) => true,
        };
        if let (true, Some(watching)) = (stopped, self.watching.take()) {
            let _ = watching.join();
        }
    }
}

/// This machine's name, as multicast DNS host names go.
fn host_name() -> String {
    let uname = rustix::system::uname();
    let name: String = uname
        .nodename()
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() { "chat".into() } else { name }
}

/// How long `chat connect NAME` looks before it says it goes on looking:
/// answers on a local network come well within it.
const QUIET_LOOK: Duration = Duration::from_secs(2);

/// Once a chat of the name wanted answered, how long others of that name
/// have to answer too.
const OTHERS_GRACE: Duration = Duration::from_millis(1500);

/// Looks for chats for `wait`, or until `grace` after `enough` first says
/// what was found is enough (others may answer a moment later); returns
/// them by name.
pub fn look(
    wait: Duration,
    enough: impl Fn(&[Found]) -> bool,
    grace: Duration,
) -> Result<Vec<Found>> {
    let mut looking = Looking::start()?;
    looking.gather(
        Instant::now().checked_add(wait),
        &enough,
        grace,
        &mut |_| {},
    );
    Ok(looking.list())
}

/// A look for chats under way: the multicast DNS daemon browsing, and what
/// answered so far. Dropping it stops the daemon.
struct Looking {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
    /// Keyed by full name, host and port: two machines may announce one
    /// name.
    found: BTreeMap<String, Found>,
    /// When what was found first was enough.
    enough_since: Option<Instant>,
}

impl Looking {
    fn start() -> Result<Self> {
        let daemon = ServiceDaemon::new().context("cannot start multicast DNS")?;
        let events = daemon
            .browse(SERVICE)
            .context("cannot look for chats on the network")?;
        Ok(Self {
            daemon,
            events,
            found: BTreeMap::new(),
            enough_since: None,
        })
    }

    /// Takes answers until `until` (`None`: no end), or, once `enough` says
    /// what was found is enough, until `grace` after that; returns whether
    /// it was. `heard` sees what was found after each answer.
    fn gather(
        &mut self,
        until: Option<Instant>,
        enough: &impl Fn(&[Found]) -> bool,
        grace: Duration,
        heard: &mut impl FnMut(&[Found]),
    ) -> bool {
        loop {
            let end = self.enough_since.map(|since| since + grace).or(until);
            let event = match end {
                Some(end) => {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.events.recv_timeout(left).ok()
                }
                None => self.events.recv().ok(),
            };
            let Some(event) = event else {
                break;
            };
            self.take(event);
            let list = self.list();
            if self.enough_since.is_none() && enough(&list) {
                self.enough_since = Some(Instant::now());
            }
            heard(&list);
        }
        self.enough_since.is_some()
    }

    /// Notes a chat that answered, or one withdrawn.
    fn take(&mut self, event: ServiceEvent) {
        match event {
            ServiceEvent::ServiceResolved(service) => {
                let Some(name) = instance_name(&service.fullname) else {
                    return;
                };
                let property = |key: &str| service.txt_properties.get_property_val_str(key);
                let traits = Traits {
                    encrypted: property("wire") != Some("plain"),
                    room: property("room") == Some("yes"),
                    code: property("code") == Some("yes"),
                };
                let mut addresses: Vec<IpAddr> =
                    service.addresses.iter().map(|a| a.to_ip_addr()).collect();
                addresses.sort();
                // (One address may be announced on several interfaces.)
                addresses.dedup();
                let entry = Found {
                    name,
                    host: service.host.clone(),
                    addresses,
                    port: service.port,
                    traits,
                };
                let key = format!("{}\n{}\n{}", service.fullname, service.host, service.port);
                self.found.insert(key, entry);
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                self.found
                    .retain(|key, _| key.split('\n').next() != Some(fullname.as_str()));
            }
            _ => {}
        }
    }

    fn list(&self) -> Vec<Found> {
        self.found.values().cloned().collect()
    }
}

impl Drop for Looking {
    fn drop(&mut self) {
        let _ = self.daemon.stop_browse(SERVICE);
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(WITHDRAW_WITHIN);
        }
    }
}

/// Finds the chat called `name` (in any case), looking as long as `trying`
/// allows: its address and port, or why not. When it does not answer at
/// once, `still_looking` hears the names other chats announce (maybe none:
/// a typo is easy to make); when there were none then, it hears them once
/// more, the first time others answer while the name wanted has not.
pub fn find(
    name: &str,
    trying: &Trying,
    still_looking: impl FnMut(&[String]),
) -> Result<(IpAddr, u16)> {
    let found = find_all(name, trying, still_looking)?;
    chosen(name, &found, trying.patience())
}

/// Every chat called `name` (in any case) that answers while `trying`
/// allows, as [`find`] looks for one: for a contact, each is asked to
/// prove its identity in turn. Those with no address this side can reach
/// are left out.
pub fn find_every(
    name: &str,
    trying: &Trying,
    still_looking: impl FnMut(&[String]),
) -> Result<Vec<(IpAddr, u16)>> {
    let found = find_all(name, trying, still_looking)?;
    Ok(found
        .iter()
        .filter_map(|f| usable(f).map(|address| (address, f.port)))
        .collect())
}

/// The chats called `name` found while `trying` allows.
fn find_all(
    name: &str,
    trying: &Trying,
    mut still_looking: impl FnMut(&[String]),
) -> Result<Vec<Found>> {
    let wanted = name.to_lowercase();
    // `alice` also matches the `alice (2)` a second alice was announced as.
    let numbered = format!("{wanted} (");
    let matches = |list: &[Found]| -> Vec<Found> {
        list.iter()
            .filter(|f| {
                let theirs = f.name.to_lowercase();
                theirs == wanted
                    || theirs
                        .strip_prefix(&numbered)
                        .and_then(|rest| rest.strip_suffix(')'))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .cloned()
            .collect()
    };
    // Others of the same name may answer a moment later; an address one
    // can connect to (not only IPv6 link-local) is what is waited for.
    let enough = |list: &[Found]| matches(list).iter().any(|f| usable(f).is_some());
    let others = |list: &[Found]| -> Vec<String> {
        let mut names: Vec<String> = match matches(list).is_empty() {
            true => list.iter().map(|f| f.name.clone()).collect(),
            false => Vec::new(),
        };
        names.dedup();
        names
    };
    let found = {
        let mut looking = Looking::start()?;
        let quiet = Instant::now() + QUIET_LOOK;
        let first = trying
            .deadline()
            .map_or(quiet, |deadline| deadline.min(quiet));
        let time_left = |trying: &Trying| trying.left() != Some(Duration::ZERO);
        if !looking.gather(Some(first), &enough, OTHERS_GRACE, &mut |_| {})
            && time_left(trying)
            && !trying.stopped()
        {
            let mut told = others(&looking.list());
            still_looking(&told);
            looking.gather(trying.deadline(), &enough, OTHERS_GRACE, &mut |list| {
                if told.is_empty() {
                    told = others(list);
                    if !told.is_empty() {
                        still_looking(&told);
                    }
                }
            });
        }
        looking.list()
    };
    Ok(matches(&found))
}

/// The one chat of those found under the name wanted, or why there is not
/// one.
fn chosen(name: &str, same: &[Found], patience: Patience) -> Result<(IpAddr, u16)> {
    match same {
        [] => Err(anyhow!(
            "no chat called {name} announces itself on this network ({}); \
             `chat peers` lists those that do, or connect with HOST PORT",
            match patience.limit() {
                Some(limit) => format!("looked for {} s", limit.as_secs()),
                None => "stopped looking".to_string(),
            }
        )),
        [one] => {
            let address = usable(one)
                .ok_or_else(|| anyhow!("{name} announced no address this side can reach"))?;
            Ok((address, one.port))
        }
        several => {
            let list: Vec<String> = several
                .iter()
                .map(|f| {
                    let address = f
                        .addresses
                        .first()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    format!("chat connect {address} {}", f.port)
                })
                .collect();
            Err(anyhow!(
                "{} chats call themselves {name}; say which by its address: {}",
                several.len(),
                list.join(" or ")
            ))
        }
    }
}

/// An address of a found chat to connect to: IPv4 first, then an IPv6
/// address that needs no interface named with it.
fn usable(found: &Found) -> Option<IpAddr> {
    let routable = |a: &&IpAddr| match a {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => !v6.is_unicast_link_local(),
    };
    let v4 = found.addresses.iter().find(|a| a.is_ipv4());
    v4.or_else(|| found.addresses.iter().find(routable))
        .copied()
}

/// The instance name of a full service name: `alice._chat._tcp.local.`.
fn instance_name(fullname: &str) -> Option<String> {
    let name = fullname.strip_suffix(SERVICE)?.strip_suffix('.')?;
    // DNS-SD escapes dots and backslashes in instance names.
    let mut out = String::new();
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_come_out_of_full_names() {
        assert_eq!(
            instance_name("alice._chat._tcp.local.").as_deref(),
            Some("alice")
        );
        assert_eq!(
            instance_name("Daksh K\\.\\\\x._chat._tcp.local.").as_deref(),
            Some("Daksh K.\\x")
        );
        assert_eq!(instance_name("alice._http._tcp.local."), None);
    }
}
