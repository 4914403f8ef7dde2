//! A client of magic-wormhole's mailbox server, where two sides that share
//! a code meet (PROTOCOL.md 3.10): one WebSocket, on which we bind, claim
//! the code's number (its nameplate), open the mailbox it points to, add
//! messages and read the other side's. Blocking, with short read timeouts
//! so that the caller can stop waiting at any time.

pub mod messages;
pub mod url;

use std::collections::VecDeque;
use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use self::messages::{FromServer, Malformed, ToServer};
pub use self::url::MailboxUrl;

/// Our application's name on the server: nameplates and mailboxes are
/// kept apart per application, so chats never meet other programs there.
pub const APPID: &str = "chat.invalid/chat-encrypted/1";

/// How often a wait for the server looks whether it should stop.
const TICK: Duration = Duration::from_millis(250);

/// Longest message taken from the server: ours are small.
const MAX_FRAME: usize = 64 * 1024;

/// Most of the other side's messages held before they are asked for: a
/// meeting needs two.
const MAX_EARLY: usize = 16;

/// Longest text of the server's shown to the user, in characters.
const MAX_SHOWN: usize = 200;

/// Why talking to the mailbox server failed.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("cannot reach the mailbox {url} ({why})")]
    Unreachable { url: String, why: io::Error },
    #[error("{url} did not answer as a mailbox server ({why})")]
    NotAMailbox { url: String, why: String },
    #[error("the mailbox {url} turns everyone away: {why}")]
    Refused { url: String, why: String },
    #[error("two others already use this code's number on the mailbox")]
    Crowded,
    #[error("the mailbox refused to {command}: {error}")]
    Server { command: String, error: String },
    #[error("the connection to the mailbox was lost ({0})")]
    Lost(String),
    #[error("the mailbox did not answer within {0} s")]
    Silent(u64),
    #[error(transparent)]
    Malformed(#[from] Malformed),
}

impl MailboxError {
    /// Whether the connection itself was lost (or went silent), so that
    /// what the server holds for our side may be left behind: not an
    /// answer the server gave.
    pub fn is_lost(&self) -> bool {
        matches!(self, Self::Lost(_) | Self::Silent(_))
    }
}

/// A side bound on the mailbox server.
pub struct Mailbox {
    socket: WebSocket<TcpStream>,
    side: String,
    next_id: u32,
    /// The other side's messages that came while we waited for an answer.
    early: VecDeque<(String, Vec<u8>)>,
    /// The server's message of the day, if it has one.
    pub motd: Option<String>,
    /// Set once reading or writing failed: the connection is not used
    /// again (the WebSocket's state may be broken).
    broken: bool,
}

impl Mailbox {
    /// Connects to the server at `url`, reads its welcome and binds as a
    /// new side, all within `within`.
    pub fn connect(url: &MailboxUrl, within: Duration) -> Result<Mailbox, MailboxError> {
        Self::connect_as(url, within, None)
    }

    /// [`Mailbox::connect`], binding as `side` again when given: the
    /// server then knows what that side claimed and opened before.
    pub fn connect_as(
        url: &MailboxUrl,
        within: Duration,
        side: Option<&str>,
    ) -> Result<Mailbox, MailboxError> {
        let unreachable = |why| MailboxError::Unreachable {
            url: url.to_string(),
            why,
        };
        let stream = url.connect(within).map_err(unreachable)?;
        stream.set_read_timeout(Some(within)).map_err(unreachable)?;
        stream
            .set_write_timeout(Some(within))
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let (socket, _) =
            tungstenite::client::client_with_config(url.as_str(), stream, Some(config)).map_err(
                |e| MailboxError::NotAMailbox {
                    url: url.to_string(),
                    why: shown(&e.to_string()),
                },
            )?;
        socket
            .get_ref()
            .set_read_timeout(Some(TICK))
            .map_err(unreachable)?;
        let side = match side {
            Some(side) => side.to_string(),
            None => {
                let mut side = [0u8; 8];
                getrandom::fill(&mut side).map_err(|e| unreachable(io::Error::other(e)))?;
                messages::hex(&side)
            }
        };
        let mut mailbox = Mailbox {
            socket,
            side,
            next_id: 0,
            early: VecDeque::new(),
            motd: None,
            broken: false,
        };
        mailbox.welcome(url, within)?;
        let side = mailbox.side.clone();
        mailbox.send(&ToServer::Bind {
            appid: APPID,
            side: &side,
        })?;
        Ok(mailbox)
    }

    fn welcome(&mut self, url: &MailboxUrl, within: Duration) -> Result<(), MailboxError> {
        let until = Instant::now() + within;
        loop {
            match self.read(until)? {
                Some(FromServer::Welcome {
                    refusal: Some(why), ..
                }) => {
                    return Err(MailboxError::Refused {
                        url: url.to_string(),
                        why: shown(&why),
                    });
                }
                Some(FromServer::Welcome { motd, .. }) => {
                    self.motd = motd;
                    return Ok(());
                }
                // A server that says anything but its welcome has the
                // same time as a silent one.
                Some(_) if Instant::now() < until => {}
                Some(_) | None => return Err(MailboxError::Silent(within.as_secs())),
            }
        }
    }

    /// The side this connection is bound as.
    pub fn side(&self) -> &str {
        &self.side
    }

    /// Asks the server for a free nameplate, which it claims for us.
    pub fn allocate(&mut self, within: Duration) -> Result<String, MailboxError> {
        self.send(&ToServer::Allocate)?;
        self.answer(within, |answer| match answer {
            FromServer::Allocated { nameplate } => Some(nameplate),
            _ => None,
        })
    }

    /// Claims `nameplate` (made on the server if nobody has it yet): the
    /// id of the mailbox it points to.
    pub fn claim(&mut self, nameplate: &str, within: Duration) -> Result<String, MailboxError> {
        self.send(&ToServer::Claim { nameplate })?;
        self.answer(within, |answer| match answer {
            FromServer::Claimed { mailbox } => Some(mailbox),
            _ => None,
        })
    }

    /// Opens the mailbox: the messages already in it, then new ones, come
    /// to [`Mailbox::next`].
    pub fn open(&mut self, mailbox: &str) -> Result<(), MailboxError> {
        self.send(&ToServer::Open { mailbox })
    }

    /// Adds a message for the other side.
    pub fn add(&mut self, phase: &str, body: &[u8]) -> Result<(), MailboxError> {
        self.send(&ToServer::Add { phase, body })
    }

    /// Gives the nameplate back: once both sides did, the server forgets
    /// it and someone else may use its number.
    pub fn release(&mut self, nameplate: &str) -> Result<(), MailboxError> {
        self.send(&ToServer::Release { nameplate })
    }

    /// Closes the mailbox with a `mood` (`happy`, `lonely`, `scary`,
    /// `errory`) and the connection, waiting a moment for the server's
    /// answer; what fails here no longer matters.
    pub fn close(mut self, mailbox: &str, mood: &str) {
        if self.send(&ToServer::Close { mailbox, mood }).is_ok() {
            let _ = self.answer(Duration::from_secs(1), |answer| match answer {
                FromServer::Closed => Some(()),
                _ => None,
            });
        }
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }

    /// The next message of the other side (ours, echoed, are skipped), or
    /// `None` once `until` passed or `stop` says so.
    pub fn next(
        &mut self,
        until: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<(String, Vec<u8>)>, MailboxError> {
        loop {
            if let Some(early) = self.early.pop_front() {
                return Ok(Some(early));
            }
            if stop() || until.is_some_and(|until| Instant::now() >= until) {
                return Ok(None);
            }
            let tick = Instant::now() + TICK;
            match self.read(tick)? {
                Some(FromServer::Error { error, command }) => {
                    return Err(refused(error, command));
                }
                Some(other) => self.keep_if_theirs(other),
                None => {}
            }
        }
    }

    fn keep_if_theirs(&mut self, said: FromServer) {
        if let FromServer::Message { side, phase, body } = said
            && side != self.side
            && self.early.len() < MAX_EARLY
        {
            self.early.push_back((phase, body));
        }
    }

    /// Reads until `wanted` picks the answer to a command; the other
    /// side's messages that come meanwhile are kept for [`Mailbox::next`].
    fn answer<T>(
        &mut self,
        within: Duration,
        wanted: impl Fn(FromServer) -> Option<T>,
    ) -> Result<T, MailboxError> {
        let until = Instant::now() + within;
        loop {
            match self.read(until)? {
                Some(FromServer::Error { error, command }) => {
                    return Err(refused(error, command));
                }
                Some(said @ FromServer::Message { .. }) => self.keep_if_theirs(said),
                Some(said) => {
                    if let Some(answer) = wanted(said) {
                        return Ok(answer);
                    }
                }
                None => {}
            }
            // However much else the server says, the answer has its time.
            if Instant::now() >= until {
                return Err(MailboxError::Silent(within.as_secs()));
            }
        }
    }

    fn send(&mut self, command: &ToServer) -> Result<(), MailboxError> {
        if self.broken {
            return Err(MailboxError::Lost("it failed before".into()));
        }
        self.next_id += 1;
        let text = messages::encode(command, self.next_id);
        self.socket.send(Message::text(text)).map_err(|e| {
            self.broken = true;
            MailboxError::Lost(shown(&e.to_string()))
        })
    }

    /// One message from the server, or `None` if none came by `until`
    /// (at most a tick later).
    fn read(&mut self, until: Instant) -> Result<Option<FromServer>, MailboxError> {
        if self.broken {
            return Err(MailboxError::Lost("it failed before".into()));
        }
        let read = self.read_unbroken(until);
        if read.is_err() {
            self.broken = true;
        }
        read
    }

    fn read_unbroken(&mut self, until: Instant) -> Result<Option<FromServer>, MailboxError> {
        loop {
            let message = match self.socket.read() {
                Ok(message) => message,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= until {
                        return Ok(None);
                    }
                    continue;
                }
                Err(e) => return Err(MailboxError::Lost(shown(&e.to_string()))),
            };
            let text = match &message {
                Message::Text(text) => text.as_str(),
                Message::Binary(bytes) => {
                    std::str::from_utf8(bytes).map_err(|_| Malformed::NotJson)?
                }
                Message::Close(_) => return Err(MailboxError::Lost("closed by the server".into())),
                _ => continue,
            };
            return Ok(Some(messages::decode(text)?));
        }
    }
}

/// The server's refusal of a command; `crowded` means the code's number
/// is in use by two others.
fn refused(error: String, command: Option<String>) -> MailboxError {
    if error == "crowded" {
        return MailboxError::Crowded;
    }
    MailboxError::Server {
        command: shown(&command.unwrap_or_else(|| "go on".into())),
        error: shown(&error),
    }
}

/// Text of the server's as it may be shown: its control characters
/// escaped (it may hold a terminal's escape codes), and not too long.
fn shown(text: &str) -> String {
    let mut escaped: String = text
        .chars()
        .flat_map(char::escape_debug)
        .take(MAX_SHOWN)
        .collect();
    if escaped.chars().count() == MAX_SHOWN {
        escaped.push_str("...");
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_connection_leaves_our_side_behind() {
        assert!(MailboxError::Lost("reset".into()).is_lost());
        assert!(MailboxError::Silent(10).is_lost());
        // A crowded number was refused to us: nothing of ours is held, and
        // claiming it as our old side would only crowd someone else.
        assert!(!MailboxError::Crowded.is_lost());
        let refused = MailboxError::Server {
            command: "claim".into(),
            error: "reclaimed".into(),
        };
        assert!(!refused.is_lost());
    }

    #[test]
    fn what_the_server_says_is_shown_escaped_and_cut_short() {
        assert_eq!(shown("go away \u{1b}[2J"), "go away \\u{1b}[2J");
        let long = shown(&"x".repeat(1000));
        assert!(
            long.ends_with("...") && long.len() == MAX_SHOWN + 3,
            "{long}"
        );
    }
}
