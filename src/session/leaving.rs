//! Leaving a conversation: what is being sent goes first (or, asked
//! again, at once), then the peer is given a moment to close too.

use std::net::SocketAddr;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::News;
use super::conversation::Conversation;
use super::events::ChatEvent;
use super::incoming::PeerEnd;
use super::outgoing::{Outgoing, Typed, WriteError};
use super::progress::Transfers;
use super::stall::{self, StallWatch};
use crate::engine::Frontend;
use crate::engine::command;
use crate::net::transport::Closer;

/// How long to wait for the peer to close after we have said goodbye. Closing
/// while the peer still sends would reset the connection and could destroy
/// data of ours it has not read yet.
const LINGER: Duration = Duration::from_secs(2);

impl Conversation<'_> {
    /// After the goodbye was queued: waits for the writer to be through with
    /// what is queued before it (still watching for a stall), then lets the
    /// reader run until the peer closes too, or [`LINGER`] passes. Returns
    /// a failure worth reporting, if any, and what the peer's end said
    /// meanwhile that the user must hear ([`told`]). Meanwhile the user may leave at
    /// once (Ctrl-C, Ctrl-D or `/quit` again, or a signal): on the encrypted
    /// wire what is being sent is then cancelled and the goodbye goes at
    /// once; the original wire cannot stop a file midway, so the
    /// connection is cut. `outbox` is let go once nothing more is sent: a
    /// writer that failed waits for it to close.
    pub(super) fn finish_sending(
        &self,
        closer: &Closer,
        stall: &mut StallWatch,
        transfers: &Transfers,
        outbox: Sender<Outgoing>,
        sealed: bool,
    ) -> (Option<WriteError>, Option<PeerEnd>) {
        let mut outbox = Some(outbox);
        let mut failure = None;
        let (mut peer_gone, mut said) = (false, None);
        let (mut told_typing, mut stopped) = (false, false);
        loop {
            match self.inbox.recv_timeout(stall::CHECK_INTERVAL) {
                Ok(News::WriterDone) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(News::Leave(_) | News::Signal) if !stopped => {
                    stopped = true;
                    self.leave_at_once(outbox.take(), closer, sealed, stall);
                }
                Ok(News::Input(lines, _)) if is_quit(&lines) && !stopped => {
                    stopped = true;
                    self.leave_at_once(outbox.take(), closer, sealed, stall);
                }
                Ok(News::Command(command::Command::Quit)) if !stopped => {
                    stopped = true;
                    self.leave_at_once(outbox.take(), closer, sealed, stall);
                }
                Ok(
                    News::Input(..) | News::Pasted(_) | News::InputTooLong(_) | News::Command(_),
                ) => {
                    if !std::mem::replace(&mut told_typing, true) {
                        self.front.chat(ChatEvent::NotSentWhileLeaving);
                    }
                }
                // Once the peer is gone, or the user cut the original wire
                // short, the writer fails because we closed.
                Ok(News::WriterFailed(e)) => {
                    outbox = None;
                    if !peer_gone && (sealed || !stopped) {
                        failure.get_or_insert(e);
                    }
                }
                // Once we gave up, the reader ends because we closed.
                Ok(News::PeerEnded(end)) if failure.is_none() => {
                    // Nobody reads what is still queued: stop sending it.
                    peer_gone = true;
                    said = told(end);
                    closer.close();
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            }
            transfers.show_stalled(self.front.as_ref());
            if failure.is_none() && stall.stalled(Instant::now(), closer.sending()) {
                failure = Some(WriteError::Stalled {
                    window: stall.window(),
                });
                closer.close();
            }
        }
        if failure.is_some() || peer_gone {
            // Ending the connection ended the reader too; or the peer left
            // first, and what it did not get has been said.
            return (failure, said);
        }
        let deadline = Instant::now() + LINGER;
        while failure.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(News::PeerEnded(end)) => {
                    said = told(end);
                    break;
                }
                Err(_) => break,
                Ok(_) => {}
            }
        }
        (failure, said)
    }

    /// The user leaves without waiting for the files being sent: on the
    /// encrypted wire they are cancelled, the peer told (a peer that takes
    /// nothing of it for [`LINGER`] is given up on: leaving at once does
    /// not wait the whole stall window); the original wire cannot stop a
    /// file midway, so the connection is cut.
    pub(super) fn leave_at_once(
        &self,
        outbox: Option<Sender<Outgoing>>,
        closer: &Closer,
        sealed: bool,
        stall: &mut StallWatch,
    ) {
        if sealed {
            if let Some(outbox) = outbox {
                let _ = outbox.send(Outgoing::Typed(Typed::StopSending));
            }
            *stall = StallWatch::new(LINGER.min(stall.window()));
        } else {
            self.front.chat(ChatEvent::LeavingAtOnce);
            closer.close();
        }
    }

    /// Says why sending failed, and makes the program's error of it.
    pub(super) fn write_failure(&self, e: WriteError, peer: SocketAddr) -> anyhow::Error {
        self.front.chat(ChatEvent::WriteFailed(&e));
        self.shown(anyhow!(e).context(format!("connection with {peer} lost")))
    }
}

/// What of the peer's end, seen while we leave, the user must still hear:
/// the peer speaks the encrypted protocol (the original wire's greeting may
/// come only as we leave: a script with nothing to say), or a room's host
/// did not let us in (its answer may come after our input ended).
fn told(end: PeerEnd) -> Option<PeerEnd> {
    matches!(end, PeerEnd::SpeaksEncrypted | PeerEnd::Unwelcome(_)).then_some(end)
}

/// Whether typed lines are `/quit` again.
fn is_quit(lines: &[u8]) -> bool {
    String::from_utf8_lossy(lines)
        .trim()
        .eq_ignore_ascii_case("/quit")
}
