//! The listening side of a code met through the mailbox: the code is
//! registered there, and a thread waits for whoever gives it. Once someone
//! did, it tells them where this chat listens; when both sides allow the
//! relay it goes there too, and brings the relayed connection to the
//! listener's arrivals, where its handshake proves the code like any
//! other. Then it registers the code again, for the next one (a room's
//! next member, or a peer whose connection failed).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;

use super::Anywhere;
use super::connecting::{MAILBOX_WITHIN, RELAY_WITHIN};
use super::router::Router;
use crate::net::arrivals::{Arrival, Via};
use crate::net::connect::Waiting;
use crate::net::events::{AnywhereStep, Joiners, LinkEvent};
use crate::net::mailbox::{Mailbox, MailboxError};
use crate::net::meeting::hints::Hints;
use crate::net::meeting::{self, AsListener, MeetError};
use crate::net::relay::{self, RelayError};
use crate::net::secure::code::Code;
use crate::net::secure::handshake::Side;

/// How long to wait before registering again after the mailbox failed.
const AGAIN_AFTER: Duration = Duration::from_secs(5);

/// How soon a number found crowded is claimed again, and how many times in
/// a row before it is said (about 3 s in all).
const CROWDED_AGAIN: Duration = Duration::from_millis(300);
const CROWDED_QUIETLY: u32 = 10;

/// Where the registering thread tells what happens.
pub type Reporter = Arc<dyn Fn(LinkEvent<'_>) + Send + Sync>;

/// How long dropping a registration waits for its thread to give the
/// code back at the mailbox.
const GIVE_BACK_WITHIN: Duration = Duration::from_millis(1500);

/// The code registered at the mailbox, waited on by a thread that ends
/// when this is dropped or listening stops.
pub struct Registration {
    stop: Arc<AtomicBool>,
    /// The port the router forwards to this chat, if it does: removed
    /// when the registration is dropped, at the end of the chat.
    _router: Router,
    /// Disconnected once the thread has ended.
    ended: mpsc::Receiver<()>,
}

impl Drop for Registration {
    /// Stops the thread and gives it a moment to release the code's
    /// number and close the mailbox: a listener started again with the
    /// same code would otherwise find its own old registration there.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.ended.recv_timeout(GIVE_BACK_WITHIN);
    }
}

/// Registers `code` at the mailbox for the chat listening at `waiting`,
/// which gives `direct` as its addresses, and the port its router opens
/// when `ask_router`: the code to use from now on
/// (a made one takes the number the mailbox gives), and the registration,
/// `None` when the mailbox cannot be reached (said through `report`; the
/// chat listens on the local network anyway).
pub fn register(
    code: &Code,
    made: bool,
    anywhere: &Anywhere,
    waiting: &Waiting,
    (direct, ask_router): (Vec<SocketAddr>, bool),
    joiners: Joiners,
    report: Reporter,
) -> Result<(Code, Option<Registration>)> {
    if !made {
        super::nameplate(code)?;
    }
    let opened = Mailbox::connect(&anywhere.mailbox, MAILBOX_WITHIN).and_then(|mut mailbox| {
        let nameplate = match made {
            true => mailbox.allocate(MAILBOX_WITHIN)?,
            false => code.nameplate().unwrap_or_default().to_string(),
        };
        // What the server allocates becomes part of the code shown.
        let digits = nameplate.bytes().all(|b| b.is_ascii_digit());
        if nameplate.is_empty() || nameplate.len() > 16 || !digits {
            return Err(MailboxError::Server {
                command: "allocate a number".into(),
                error: "it gave something else".into(),
            });
        }
        Ok((mailbox, nameplate))
    });
    // Not there now: the code (a made one with the number it was made
    // with) is registered once the mailbox answers.
    let (mailbox, nameplate) = match opened {
        Ok((mailbox, nameplate)) => (Some(mailbox), nameplate),
        Err(e) => {
            report(LinkEvent::Anywhere(AnywhereStep::NotRegistered(&e)));
            (None, code.nameplate().unwrap_or_default().to_string())
        }
    };
    let code = match made {
        true => code.numbered(&nameplate),
        false => code.clone(),
    };
    let router = match ask_router {
        true => Router::ask(waiting.port(), report.clone())?,
        false => Router::none(),
    };
    if anywhere.relay.is_some() {
        waiting.arrivals().relayed_too();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let desk = Desk {
        code: code.clone(),
        nameplate,
        anywhere: anywhere.clone(),
        ours: Hints {
            direct,
            relay: anywhere.relay.clone(),
        },
        router: router.clone(),
        waiting: waiting.clone(),
        stop: stop.clone(),
        joiners,
        report,
    };
    let (end, ended) = mpsc::channel();
    crate::threads::spawn("mailbox", move || {
        desk.run(mailbox);
        drop(end);
    })?;
    Ok((
        code,
        Some(Registration {
            stop,
            ended,
            _router: router,
        }),
    ))
}

/// What the registering thread holds.
struct Desk {
    code: Code,
    nameplate: String,
    anywhere: Anywhere,
    ours: Hints,
    router: Router,
    waiting: Waiting,
    stop: Arc<AtomicBool>,
    joiners: Joiners,
    report: Reporter,
}

impl Desk {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.waiting.stopped()
    }

    /// Where this chat can be reached: its addresses, and the port its
    /// router opened (waiting for the router's answer, if it is still to
    /// come).
    fn hints(&self) -> Hints {
        let mut hints = self.ours.clone();
        if let Some(external) = self.router.external() {
            hints.direct.insert(0, external);
        }
        hints
    }

    /// Registers, waits, meets, and again, until listening stops.
    fn run(self, first: Option<Mailbox>) {
        // Said once each: registered, and (until registered again) failed;
        // a failure to reach the mailbox at first was said already.
        let (mut told, mut failed) = (false, first.is_none());
        let mut crowded = 0;
        let mut mailbox = first;
        // The side whose connection was lost while registered.
        let mut lost: Option<String> = None;
        while !self.stopped() {
            if let Some(side) = lost.take() {
                self.give_back(&side);
            }
            let opened = match mailbox.take() {
                Some(mailbox) => Ok(mailbox),
                None => Mailbox::connect(&self.anywhere.mailbox, MAILBOX_WITHIN),
            };
            let side = opened.as_ref().ok().map(|m| m.side().to_string());
            let result = opened
                .map_err(MeetError::from)
                .and_then(|m| self.once(m, &mut told));
            if let Err(MeetError::Mailbox(e)) = &result
                && e.is_lost()
            {
                lost = side;
            }
            match result {
                Ok(()) => (failed, crowded) = (false, 0),
                // Right after a meeting, the number may still be held by
                // the side just met, whose release the server has not seen
                // yet: tried again at once, and said only if it lasts.
                Err(MeetError::Mailbox(MailboxError::Crowded)) if crowded < CROWDED_QUIETLY => {
                    crowded += 1;
                    self.pause(CROWDED_AGAIN);
                }
                Err(MeetError::WrongCode { nth, allowed }) => {
                    (self.report)(LinkEvent::Anywhere(AnywhereStep::WrongCodeAtMailbox {
                        nth,
                        allowed,
                    }));
                    if nth >= allowed {
                        let why = format!(
                            "{allowed} attempts with a wrong code: stopped listening, since \
                             each one is a guess (start again with a new code)"
                        );
                        self.waiting.arrivals().bring(Arrival::End(why));
                        return;
                    }
                }
                Err(MeetError::GuessesSpent(_)) => return,
                Err(e) => {
                    if !std::mem::replace(&mut failed, true) {
                        (self.report)(LinkEvent::Anywhere(AnywhereStep::MailboxFailed(&e)));
                    }
                    told = false;
                    self.pause(AGAIN_AFTER);
                }
            }
        }
    }

    /// One registration: claims the code's number, waits for the other
    /// side, meets it, and sends the relay on its way.
    fn once(&self, mut mailbox: Mailbox, told: &mut bool) -> Result<(), MeetError> {
        let id = match mailbox.claim(&self.nameplate, MAILBOX_WITHIN) {
            Ok(id) => id,
            Err(e) => {
                // Crowded, the server keeps our side on the number unless
                // it is given back.
                let _ = mailbox.release(&self.nameplate);
                return Err(e.into());
            }
        };
        mailbox.open(&id)?;
        if !std::mem::replace(told, true) {
            (self.report)(LinkEvent::Anywhere(AnywhereStep::Registered {
                code: &self.code,
                joiners: self.joiners,
            }));
        }
        let stop = || self.stopped();
        let met = meeting::meet(
            &mut mailbox,
            Side::Listening,
            &self.code,
            &|| self.hints(),
            &mut || {},
            &stop,
            Some(AsListener {
                guesses: self.waiting.guesses(),
                nameplate: &self.nameplate,
            }),
        );
        meeting::leave(mailbox, &self.nameplate, &id, &met);
        let Some(met) = met? else {
            return Ok(());
        };
        if self.ours.direct.is_empty()
            && (self.anywhere.relay.is_none() || met.theirs.relay.is_none())
        {
            (self.report)(LinkEvent::Anywhere(AnywhereStep::NoPath));
            return Ok(());
        }
        (self.report)(LinkEvent::Anywhere(AnywhereStep::MetAtMailbox));
        if let (Some(relay), Some(_)) = (&self.anywhere.relay, &met.theirs.relay) {
            let (relay, waiting, token) = (relay.clone(), self.waiting.clone(), met.relay_token);
            let side = relay::random_side();
            let report = self.report.clone();
            let _ = crate::threads::spawn("relay", move || {
                let stop = || waiting.stopped();
                match relay::join(&relay, &token, &side, RELAY_WITHIN, &stop) {
                    Ok(stream) => {
                        let via = Via::Relay(relay);
                        waiting.arrivals().bring(Arrival::Connection(stream, via));
                    }
                    // Not there, or it came directly: nothing to say.
                    Err(RelayError::Stopped | RelayError::Alone { .. }) => {}
                    Err(e) => report(LinkEvent::Anywhere(AnywhereStep::RelayFailed(&e))),
                }
            });
        }
        Ok(())
    }

    /// Gives back the code's number that `side` claimed before its
    /// connection was lost, closing its mailbox: registered again as a new
    /// side, this chat would otherwise meet its own earlier registration.
    fn give_back(&self, side: &str) {
        let Ok(mut mailbox) =
            Mailbox::connect_as(&self.anywhere.mailbox, MAILBOX_WITHIN, Some(side))
        else {
            return;
        };
        if let Ok(id) = mailbox.claim(&self.nameplate, MAILBOX_WITHIN) {
            let _ = mailbox.release(&self.nameplate);
            mailbox.close(&id, "errory");
        }
    }

    /// Waits `for_` before registering again, unless listening stops.
    fn pause(&self, for_: Duration) {
        let until = std::time::Instant::now() + for_;
        while !self.stopped() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
