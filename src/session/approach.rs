//! Getting to the peer while the user may already type: listening for it,
//! announced on the local network, or connecting to it by address or by
//! name, trying as long as `--wait` allows.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use anyhow::Result;

use super::{News, finding};
use crate::engine::{Event as Shown, Front, link_report};
use crate::net::connect::{self, Established};
use crate::net::discovery;
use crate::net::events::{Joiners, LinkEvent};
use crate::net::patience::{Patience, StopTrying, Trying};
use crate::net::rendezvous::{self, listening, listening::Registration};
use crate::net::secure::Protection;
use crate::settings::{Role, Settings};
use crate::threads::{join, spawn};

/// Announces a listening chat on the local network, unless the user said
/// not to; a failure to announce is said, and the chat listens anyway.
pub(crate) fn announce(
    settings: &Settings,
    port: u16,
    front: &Front,
) -> Option<discovery::Announcement> {
    // Nobody on the network could reach a chat that listens on loopback.
    if !settings.announce || on_loopback(settings) {
        return None;
    }
    let traits = discovery::Traits {
        encrypted: matches!(settings.protection, Protection::Encrypted { .. }),
        room: settings.room.is_some(),
        code: matches!(
            settings.protection,
            Protection::Encrypted { code: Some(_), .. }
        ),
    };
    let told = front.clone();
    let code = traits.code;
    let renamed =
        move |was: &str, name: &str| told.show(Shown::Link(LinkEvent::Renamed { was, name, code }));
    match discovery::Announcement::start(&settings.name, port, traits, renamed) {
        Ok(announcement) => {
            let name = &announcement.name;
            front.show(Shown::Link(LinkEvent::Announced { name, code }));
            Some(announcement)
        }
        Err(e) => {
            front.show(Shown::Link(LinkEvent::NotAnnounced(&e)));
            None
        }
    }
}

/// Whether the chat listens on loopback only (or does not listen).
fn on_loopback(settings: &Settings) -> bool {
    match &settings.role {
        Role::Listen { host, .. } => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => true,
    }
}

/// Shows the code made for this chat, which `joiners` must give.
pub(crate) fn give_code(
    settings: &Settings,
    protection: &Protection,
    front: &Front,
    joiners: Joiners,
) {
    if let (
        true,
        Protection::Encrypted {
            code: Some(code), ..
        },
    ) = (settings.made_code, protection)
    {
        front.show(Shown::Link(LinkEvent::CodeToGive { code, joiners }));
    }
}

/// Registers the chat's code at the mailbox when it is to be reached from
/// anywhere: the protection to listen with (a made code takes the number
/// the mailbox gives it) and the registration, kept while listening.
pub(crate) fn register(
    settings: &Settings,
    waiting: &connect::Waiting,
    front: &Front,
    joiners: Joiners,
) -> Result<(Protection, Option<Registration>)> {
    let (
        Protection::Encrypted {
            code: Some(code), ..
        },
        Some(anywhere),
    ) = (&settings.protection, &settings.anywhere)
    else {
        return Ok((settings.protection.clone(), None));
    };
    let told = front.clone();
    let report: listening::Reporter = Arc::new(move |event| told.show(Shown::Link(event)));
    let (direct, ask_router) = match anywhere.direct {
        // Nobody outside could reach a chat on loopback: its router is
        // not asked to forward a port to it.
        true => (waiting.addresses(), !on_loopback(settings)),
        false => (Vec::new(), false),
    };
    let (code, registration) = listening::register(
        code,
        settings.made_code,
        anywhere,
        waiting,
        (direct, ask_router),
        joiners,
        report,
    )?;
    let protection = settings.protection.with_code(code);
    Ok((protection, registration))
}

/// What waiting for the peer set going: a listening socket, the thread
/// taking the one peer and the chat's announcement; or, on a side that
/// connects, its trying, which stops when this is dropped.
pub(super) struct Approach {
    listening: Option<(connect::Waiting, JoinHandle<()>)>,
    announcement: Option<discovery::Announcement>,
    registration: Option<Registration>,
    _stop_trying: Option<StopTrying>,
}

impl Approach {
    /// Listens for the peer, or starts connecting to it, on a thread that
    /// tells `events` once connected.
    pub(super) fn start(settings: &Settings, events: &Sender<News>, front: &Front) -> Result<Self> {
        let protection = settings.protection.clone();
        let thread_front = front.clone();
        match &settings.role {
            Role::Listen { host, port } => Self::listen(settings, host, *port, events, front),
            Role::Connect { host, port, wait } => {
                let (host, port) = (host.clone(), *port);
                Self::connecting(*wait, events, move |trying| {
                    let report = link_report(&*thread_front);
                    connect::connect(&host, port, &report, &protection, trying)
                })
            }
            Role::Meet { wait } => {
                let (
                    Protection::Encrypted {
                        code: Some(code), ..
                    },
                    Some(anywhere),
                ) = (&settings.protection, &settings.anywhere)
                else {
                    anyhow::bail!("meeting through the mailbox takes a code");
                };
                let anywhere = anywhere.clone();
                let protection = settings.protection.with_code(code.clone());
                Self::connecting(*wait, events, move |trying| {
                    let report = link_report(&*thread_front);
                    rendezvous::connecting::connect(&protection, &anywhere, &report, trying)
                })
            }
            Role::Find {
                name,
                may_be_host,
                wait,
            } => {
                let (name, may_be_host) = (name.clone(), *may_be_host);
                let contact = finding::contact_called(settings, &name)?;
                Self::connecting(*wait, events, move |trying| {
                    let report = link_report(&*thread_front);
                    let contact = contact.as_ref();
                    finding::connect(&name, may_be_host, contact, &protection, &report, trying)
                })
            }
        }
    }

    /// Connects on a thread of its own, trying as long as `wait` allows or
    /// until this is dropped.
    fn connecting(
        wait: Patience,
        events: &Sender<News>,
        work: impl FnOnce(&Trying) -> Result<Established> + Send + 'static,
    ) -> Result<Self> {
        let (trying, stop) = Trying::start(wait);
        let events = events.clone();
        // Its trying stops once this is dropped, when the user leaves
        // first; a connection attempt or handshake under way cannot be
        // interrupted portably and ends within its own limit, so the thread
        // is not joined.
        spawn("connect", move || {
            let connected = work(&trying).map(Some);
            let _ = events.send(News::Connected(connected));
        })?;
        Ok(Self {
            listening: None,
            announcement: None,
            registration: None,
            _stop_trying: Some(stop),
        })
    }

    /// Binds, announces, and takes the one peer on a thread of its own.
    fn listen(
        settings: &Settings,
        host: &str,
        port: u16,
        events: &Sender<News>,
        front: &Front,
    ) -> Result<Self> {
        let waiting = connect::bind(host, port, &link_report(&**front))?;
        // Withdrawn once the one peer is in (or the wait ends).
        let announcement = announce(settings, waiting.port(), front);
        let (protection, registration) = register(settings, &waiting, front, Joiners::Peer)?;
        give_code(settings, &protection, front, Joiners::Peer);
        let stopper = waiting.clone();
        let (front, events) = (front.clone(), events.clone());
        let accepting = spawn("accept", move || {
            let report = link_report(&*front);
            let _ = events.send(News::Connected(waiting.accept(&report, &protection)));
        })?;
        Ok(Self {
            listening: Some((stopper, accepting)),
            announcement,
            registration,
            _stop_trying: None,
        })
    }

    /// Once the peer is in: the announcement is withdrawn and the thread
    /// that took the peer joined.
    /// The registration at the mailbox, if any, is given back to be kept
    /// while the conversation lasts.
    pub(super) fn finish(self) -> Result<Option<Registration>> {
        drop(self.announcement);
        if let Some((_, accepting)) = self.listening {
            join(accepting)?;
        }
        Ok(self.registration)
    }

    /// The user left first: stops listening, or trying.
    pub(super) fn stop(self) -> Result<()> {
        match self.listening {
            Some((waiting, accepting)) => {
                waiting.stop();
                join(accepting)
            }
            None => Ok(()),
        }
    }
}
