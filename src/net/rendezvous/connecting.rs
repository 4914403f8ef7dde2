//! The connecting side of a code met through the mailbox: meet the
//! listener there, then race its direct addresses, and the relay if none
//! answers within a few seconds; the first connection whose handshake
//! proves the code wins.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use super::Anywhere;
use crate::net::arrivals::Via;
use crate::net::connect::{self, Established, Report};
use crate::net::events::{AnywhereStep, LinkEvent};
use crate::net::mailbox::{Mailbox, MailboxError};
use crate::net::meeting::hints::Hints;
use crate::net::meeting::{self, MeetError, Met};
use crate::net::patience::Trying;
use crate::net::relay::{self, RelayAddr};
use crate::net::secure::Protection;
use crate::net::secure::code::Code;
use crate::net::secure::handshake::Side;

/// How long the mailbox has to answer each step.
pub(super) const MAILBOX_WITHIN: Duration = Duration::from_secs(10);

/// How long each direct address has to answer: one across two NATs may
/// drop what is sent to it rather than refuse it.
const DIRECT_WITHIN: Duration = Duration::from_secs(5);

/// How long the direct addresses have before the relay is tried too.
const RELAY_AFTER: Duration = Duration::from_secs(2);

/// How long the other side has to come to the relay.
pub(super) const RELAY_WITHIN: Duration = Duration::from_secs(30);

/// Meets the listener that gave the code of `protection` through the
/// mailbox, then connects to it by the fastest path and runs the handshake
/// with the code.
pub fn connect(
    protection: &Protection,
    anywhere: &Anywhere,
    report: Report,
    trying: &Trying,
) -> Result<Established> {
    let Protection::Encrypted {
        code: Some(code), ..
    } = protection
    else {
        bail!("meeting through the mailbox takes a code");
    };
    let mut met = meet(code, anywhere, report, trying)?;
    if !anywhere.direct {
        met.theirs.direct.clear();
    }
    let relay = match (&anywhere.relay, &met.theirs.relay) {
        (Some(_), Some(theirs)) => Some(theirs.clone()),
        _ => None,
    };
    if met.theirs.direct.is_empty() && relay.is_none() {
        bail!(
            "no path can join the two sides: {}",
            no_path(anywhere, &met)
        );
    }
    let (established, via) = race(&met, relay, report, protection)?;
    report(match &via {
        Via::Direct(address) => LinkEvent::ConnectedDirectly(*address),
        Via::Relay(relay) => LinkEvent::Relayed(relay),
    });
    Ok(established)
}

/// The meeting at the mailbox, waiting for the listener as long as
/// `trying` allows.
fn meet(code: &Code, anywhere: &Anywhere, report: Report, trying: &Trying) -> Result<Met> {
    let nameplate = super::nameplate(code)?;
    let (mut mailbox, id) = claim(anywhere, nameplate)?;
    mailbox.open(&id)?;
    let ours = Hints {
        direct: Vec::new(),
        relay: anywhere.relay.clone(),
    };
    let mut waiting = || {
        report(LinkEvent::Anywhere(AnywhereStep::WaitingAtMailbox {
            patience: trying.patience(),
        }))
    };
    let stop = || trying.stopped() || trying.left() == Some(Duration::ZERO);
    let met = meeting::meet(
        &mut mailbox,
        Side::Connecting,
        code,
        &|| ours.clone(),
        &mut waiting,
        &stop,
        None,
    );
    meeting::leave(mailbox, nameplate, &id, &met);
    match met {
        Ok(Some(met)) => Ok(met),
        Ok(None) if trying.stopped() => bail!("stopped waiting for the other side"),
        Ok(None) => bail!(
            "nobody gave this code at the mailbox within {} s",
            trying.patience().limit().unwrap_or_default().as_secs()
        ),
        Err(MeetError::WrongCode { .. }) => bail!(
            "the code did not match; nothing of the conversation was exchanged (check the code \
             with the other side)"
        ),
        Err(e) => Err(e.into()),
    }
}

/// Why neither a direct path nor the relay is left, as the options of
/// the two sides make it.
fn no_path(anywhere: &Anywhere, met: &Met) -> &'static str {
    match (anywhere.direct, anywhere.relay.is_some()) {
        (false, _) if met.theirs.relay.is_none() => {
            "this side connects only through the relay (--relay-only), and the other side \
             refuses relayed connections (--no-relay)"
        }
        (_, false) => {
            "this side refuses relayed connections (--no-relay), and the other side gives no \
             address to connect to (--relay-only)"
        }
        _ => "the other side gives no address to connect to, and refuses relayed connections",
    }
}

/// How long a code's number may be crowded before giving up: the others
/// may be a room's members joining at the same moment.
const CROWDED_FOR: Duration = Duration::from_secs(15);

/// Connects to the mailbox and claims the code's number, trying again
/// while two others hold it, for a while.
fn claim(anywhere: &Anywhere, nameplate: &str) -> Result<(Mailbox, String)> {
    let until = std::time::Instant::now() + CROWDED_FOR;
    loop {
        let mut mailbox = Mailbox::connect(&anywhere.mailbox, MAILBOX_WITHIN)?;
        match mailbox.claim(nameplate, MAILBOX_WITHIN) {
            Ok(id) => return Ok((mailbox, id)),
            Err(MailboxError::Crowded) if std::time::Instant::now() < until => {
                let _ = mailbox.release(nameplate);
                drop(mailbox);
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => return Err(taken(e)),
        }
    }
}

/// A third side on a code's number: someone else uses it now.
fn taken(e: MailboxError) -> anyhow::Error {
    match e {
        MailboxError::Crowded => anyhow!(
            "two others already use a code of this number at the mailbox: the code was taken, \
             or guessed; ask the other side for a new one"
        ),
        e => e.into(),
    }
}

/// One path tried: a connection whose handshake proved the code, or why
/// not; `direct` unless it was the relay.
struct Attempt {
    direct: bool,
    result: Result<(Established, Via), String>,
}

/// Tries every direct address at once, and the relay once they all failed
/// or [`RELAY_AFTER`] passed; each path runs its own handshake, so that
/// one that answers slowly holds up no other; the first to prove the code
/// wins, and the others are dropped.
fn race(
    met: &Met,
    relay: Option<RelayAddr>,
    report: Report,
    protection: &Protection,
) -> Result<(Established, Via)> {
    let (reached, paths) = mpsc::channel::<Attempt>();
    let decided = Arc::new(AtomicBool::new(false));
    for &address in &met.theirs.direct {
        let (reached, protection) = (reached.clone(), protection.clone());
        std::thread::spawn(move || {
            let result = TcpStream::connect_timeout(&address, DIRECT_WITHIN)
                .map_err(|e| format!("{address}: {e}"))
                .and_then(|stream| secured(stream, Via::Direct(address), &protection));
            let direct = true;
            let _ = reached.send(Attempt { direct, result });
        });
    }
    let (go, gone) = mpsc::channel::<()>();
    if let Some(relay) = relay.clone() {
        let (reached, decided, token) = (reached.clone(), decided.clone(), met.relay_token);
        let protection = protection.clone();
        std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Disconnected) = gone.recv_timeout(RELAY_AFTER) {
                return;
            }
            let stop = || decided.load(Ordering::SeqCst);
            let result = relay::join(&relay, &token, &relay::random_side(), RELAY_WITHIN, &stop)
                .map_err(|e| e.to_string())
                .and_then(|stream| secured(stream, Via::Relay(relay.clone()), &protection));
            let direct = false;
            let _ = reached.send(Attempt { direct, result });
        });
    }
    drop(reached);
    let result = first_secured(met, relay.as_ref(), &go, paths, report);
    decided.store(true, Ordering::SeqCst);
    result
}

/// The handshake on a path made.
fn secured(
    stream: TcpStream,
    via: Via,
    protection: &Protection,
) -> Result<(Established, Via), String> {
    connect::secure(stream, &via, protection)
        .map(|established| (established, via))
        .map_err(|e| format!("{e:#}"))
}

/// Takes the first path whose handshake succeeded; starts the relay
/// (through `go`) once every direct address failed.
fn first_secured(
    met: &Met,
    relay: Option<&RelayAddr>,
    go: &mpsc::Sender<()>,
    paths: mpsc::Receiver<Attempt>,
    report: Report,
) -> Result<(Established, Via)> {
    let mut direct_left = met.theirs.direct.len();
    let mut failures = Vec::new();
    if direct_left == 0 {
        let _ = go.send(());
    }
    for Attempt { direct, result } in paths {
        match result {
            Ok(secured) => return Ok(secured),
            Err(why) => failures.push(why),
        }
        if direct && direct_left > 0 {
            direct_left -= 1;
            if direct_left == 0 {
                if let Some(relay) = relay {
                    report(LinkEvent::Anywhere(AnywhereStep::TryingRelay(relay)));
                }
                let _ = go.send(());
            }
        }
    }
    let more = failures.len().saturating_sub(3);
    failures.truncate(3);
    if more > 0 {
        failures.push(format!("and {more} more"));
    }
    bail!("cannot connect to the other side: {}", failures.join("; "))
}
