//! Finding each other on the local network without typed addresses: a
//! listening chat announces itself with DNS-SD over multicast DNS
//! (`_chat._tcp.local.`, the user's name as the instance, a few TXT keys),
//! and `chat peers` or `chat connect NAME` look for announcements. The
//! multicast DNS daemon runs on a thread of its own.
//!
//! Anyone on the network can announce any name: what is found is only an
//! address to try. The safety code, or `--code`, proves who answers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

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
}

impl Announcement {
    /// Announces `name` listening on `port`, on every interface with an
    /// address. Two chats may not share an instance name on the network
    /// (multicast DNS would take them for one), so a name someone else
    /// announces already is numbered, as DNS-SD does: `alice (2)`.
    pub fn start(name: &str, port: u16, traits: Traits) -> Result<Self> {
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
            &name,
            &format!("{host}.local."),
            "",
            port,
            &properties[..],
        )
        .context("cannot describe this chat for multicast DNS")?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon
            .register(info)
            .context("cannot announce this chat on the network")?;
        Ok(Self {
            daemon,
            fullname,
            name,
        })
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(WITHDRAW_WITHIN);
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(WITHDRAW_WITHIN);
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

/// Looks for chats for `wait`, or until `grace` after `enough` first says
/// what was found is enough (others may answer a moment later); returns
/// them by name.
pub fn look(
    wait: Duration,
    enough: impl Fn(&[Found]) -> bool,
    grace: Duration,
) -> Result<Vec<Found>> {
    let daemon = ServiceDaemon::new().context("cannot start multicast DNS")?;
    let events = daemon
        .browse(SERVICE)
        .context("cannot look for chats on the network")?;
    let mut deadline = Instant::now() + wait;
    let mut satisfied = false;
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(service)) => {
                let Some(name) = instance_name(&service.fullname) else {
                    continue;
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
                let entry = Found {
                    name: name.clone(),
                    host: service.host.clone(),
                    addresses,
                    port: service.port,
                    traits,
                };
                // Keyed by host and port too: two machines may announce one
                // name.
                let key = format!("{}\n{}\n{}", service.fullname, service.host, service.port);
                found.insert(key, entry);
                let list: Vec<Found> = found.values().cloned().collect();
                if !satisfied && enough(&list) {
                    satisfied = true;
                    deadline = deadline.min(Instant::now() + grace);
                }
            }
            Ok(ServiceEvent::ServiceRemoved(_, fullname)) => {
                found.retain(|key, _| key.split('\n').next() != Some(fullname.as_str()));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = daemon.stop_browse(SERVICE);
    if let Ok(done) = daemon.shutdown() {
        let _ = done.recv_timeout(WITHDRAW_WITHIN);
    }
    Ok(found.into_values().collect())
}

/// Finds the chat called `name` (in any case): its address and port, or
/// why not.
pub fn find(name: &str, wait: Duration) -> Result<(IpAddr, u16)> {
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
    let found = look(
        wait,
        |list| matches(list).iter().any(|f| usable(f).is_some()),
        Duration::from_millis(1500),
    )?;
    let same = matches(&found);
    match &same[..] {
        [] => Err(anyhow!(
            "no chat called {name} announces itself on this network (looked for {} s); \
             `chat peers` lists those that do, or connect with HOST PORT",
            wait.as_secs()
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
