//! A connected conversation: starts the reader, writer and input threads,
//! and runs the main loop that acts on the user's input.
//!
//! Every thread reports to the main loop through one channel of [`Event`]s,
//! so the loop notices the peer leaving at once, without waiting for the user
//! to type.

use std::io::{BufRead, BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

pub mod command;
pub mod incoming;
pub mod outgoing;
pub mod progress;

use self::command::{COMMANDS, UserCommand};
use self::incoming::PeerEnd;
use self::outgoing::{Outgoing, WriteError};
use self::progress::{Direction, Transfers};
use crate::files::download::DownloadDir;
use crate::files::transfer::OutgoingFile;
use crate::signals::SignalWatch;
use crate::terminal::console::{Console, EditorStop, Input, LineEditor};
use crate::terminal::screen::Screen;
use crate::wire::frame;

/// How long to wait for the peer to close after we have said goodbye. Closing
/// while the peer still sends would reset the connection and could destroy
/// data of ours it has not read yet.
const LINGER: Duration = Duration::from_secs(2);

/// Batches of input waiting for the main loop, at most. Input piped faster
/// than the peer takes it is so held back in the pipe, not in memory: with
/// batches of at most [`INPUT_BATCH`] bytes, 1 MiB in all. Only input is
/// held back: the threads reporting on the connection must never wait for
/// a main loop that has stopped listening.
const INPUT_QUEUE: usize = 16;

/// Batches of messages, and files, waiting for the writer; bounded for the
/// same reason.
const OUTBOX: usize = 64;

/// What the main loop hears about.
enum Event {
    /// Whole lines the user typed (or piped), as many as arrived together.
    Input(Vec<u8>),
    /// The user's input ended.
    InputEnded,
    /// The reader thread is done: the peer's side of the stream ended.
    PeerEnded(PeerEnd),
    /// The writer thread could not send; the connection is unusable.
    WriterFailed(WriteError),
    /// A signal asked us to leave.
    Signal,
}

/// Why the main loop stopped.
enum Ending {
    Quit,
    Peer(PeerEnd),
    WriterFailed(WriteError),
}

/// Runs a conversation on `stream` until either side leaves, reading the
/// user's lines from the console and showing everything on its screen.
pub fn run(stream: TcpStream, name: &str, downloads: DownloadDir, console: Console) -> Result<()> {
    // Chat lines are small and typed one at a time; Nagle's algorithm would
    // hold each back waiting for an acknowledgement.
    stream.set_nodelay(true).context("cannot set TCP_NODELAY")?;
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "the peer".to_string(), |a| a.to_string());
    let Console { input, screen } = console;
    let transfers = Arc::new(Transfers::default());
    let (events, inbox) = mpsc::channel();
    // The input thread takes a ticket per batch; the main loop hands one
    // back per batch done.
    let (tickets, used_tickets) = mpsc::sync_channel(INPUT_QUEUE);
    let (outbox, queue) = mpsc::sync_channel(OUTBOX);

    let editor = spawn_input(input, events.clone(), tickets)?;
    let _signals = {
        let events = events.clone();
        SignalWatch::start(editor.is_none(), move || {
            let _ = events.send(Event::Signal);
        })?
    };
    let reader = {
        let stream = stream.try_clone().context("cannot share the connection")?;
        let (screen, events, transfers) = (screen.clone(), events.clone(), transfers.clone());
        spawn("reader", move || {
            let end = incoming::read_peer(stream, &downloads, &screen, &transfers);
            let _ = events.send(Event::PeerEnded(end));
        })?
    };
    let writer = {
        let stream = stream.try_clone().context("cannot share the connection")?;
        let (screen, name, transfers) = (screen.clone(), name.to_string(), transfers.clone());
        spawn("writer", move || {
            if let Err(e) = outgoing::write_peer(stream, &name, queue, &screen, &transfers) {
                let _ = events.send(Event::WriterFailed(e));
            }
        })?
    };

    let ending = converse(&inbox, &used_tickets, &outbox, name, &screen, &transfers);
    // Input is of no more use; this also frees an input thread waiting for
    // a ticket.
    drop(used_tickets);
    // Whatever ended the chat, the prompt goes first, so the last lines are
    // not drawn around it.
    if let Some(editor) = editor {
        editor.stop(&screen);
    }
    let result = match ending {
        Ending::Quit => {
            if transfers.sending() && screen.is_interactive() {
                screen.system(
                    "Leaving once the files being sent are through (Ctrl-C leaves at once).",
                );
            }
            let _ = outbox.send(Outgoing::Leave);
            drop(outbox);
            join(writer)?;
            let failure = wait_for_peer(&inbox, &stream);
            join(reader)?;
            match failure {
                None => Ok(()),
                Some(e) => {
                    report_write_failure(&screen, &e);
                    Err(anyhow!(e).context(format!("connection with {peer} lost")))
                }
            }
        }
        Ending::Peer(end) => {
            // The peer is gone: anything still being sent has nobody to read
            // it, so stop the writer at once instead of finishing a file.
            let _ = stream.shutdown(Shutdown::Both);
            drop(outbox);
            join(writer)?;
            join(reader)?;
            match end {
                PeerEnd::Left => {
                    screen.system("Peer disconnected.");
                    Ok(())
                }
                PeerEnd::Cut(e) => {
                    screen.system("Peer disconnected.");
                    Err(anyhow!(e).context(format!("connection with {peer} cut short")))
                }
                PeerEnd::Lost(e) => {
                    screen.system(format!("Connection lost: {e}"));
                    Err(anyhow!(e).context(format!("connection with {peer} lost")))
                }
            }
        }
        Ending::WriterFailed(e) => {
            report_write_failure(&screen, &e);
            let _ = stream.shutdown(Shutdown::Both);
            drop(outbox);
            join(writer)?;
            join(reader)?;
            Err(anyhow!(e).context(format!("connection with {peer} lost")))
        }
    };
    screen.system("Exiting.");
    result
}

fn report_write_failure(screen: &Screen, e: &WriteError) {
    match e {
        WriteError::Source(_) => screen.system(format!("Sending stopped: {e}")),
        _ => screen.system(format!("Connection lost: {e}")),
    }
}

/// The main loop: acts on the user's lines until the user quits or the
/// connection ends.
fn converse(
    inbox: &Receiver<Event>,
    used_tickets: &Receiver<()>,
    outbox: &SyncSender<Outgoing>,
    name: &str,
    screen: &Screen,
    transfers: &Transfers,
) -> Ending {
    let mut user = UserSide {
        outbox,
        name,
        screen,
        transfers,
        told_about_waiting: false,
        texts: Vec::new(),
    };
    while let Ok(event) = inbox.recv() {
        let lines = match event {
            Event::Input(lines) => {
                let _ = used_tickets.try_recv();
                lines
            }
            Event::InputEnded | Event::Signal => return Ending::Quit,
            Event::PeerEnded(end) => return Ending::Peer(end),
            Event::WriterFailed(e) => return Ending::WriterFailed(e),
        };
        // Valid UTF-8 is the rule; checking it strictly first is quicker
        // than the lossy conversion's check.
        let lines = match std::str::from_utf8(&lines) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&lines),
        };
        for line in lines.split_inclusive('\n') {
            if user.act(line).is_break() {
                user.send_texts();
                return Ending::Quit;
            }
        }
        user.send_texts();
    }
    // Every sender is gone, which only happens once all threads ended.
    Ending::Quit
}

/// What the main loop keeps between the user's lines.
struct UserSide<'a> {
    outbox: &'a SyncSender<Outgoing>,
    name: &'a str,
    screen: &'a Screen,
    transfers: &'a Transfers,
    /// Whether the user was told that messages wait for the file being sent.
    told_about_waiting: bool,
    /// Messages not yet handed to the writer, encoded: lines that arrive
    /// together go to it together.
    texts: Vec<u8>,
}

impl UserSide<'_> {
    fn queue(&mut self, outgoing: Outgoing) {
        self.send_texts();
        // If the writer has stopped, its reason is already on its way.
        let _ = self.outbox.send(outgoing);
    }

    fn send_texts(&mut self) {
        if !self.texts.is_empty() {
            let texts = std::mem::take(&mut self.texts);
            let _ = self.outbox.send(Outgoing::Lines(texts));
        }
    }

    /// Acts on one line; breaks when the user leaves.
    fn act(&mut self, line: &str) -> ControlFlow<()> {
        let screen = self.screen;
        // Only interactive mode tells about waiting files, and piped input
        // can be a million lines: no look at the transfer list per line there.
        let sending = screen.is_interactive() && self.transfers.sending();
        self.told_about_waiting &= sending;
        match command::parse(line) {
            UserCommand::Nothing => {}
            UserCommand::Quit => return ControlFlow::Break(()),
            UserCommand::Usage(text) => screen.system(text),
            UserCommand::Help => {
                for (usage, what) in COMMANDS {
                    screen.system(format!("{usage:<14} {what}"));
                }
            }
            UserCommand::Status => {
                for line in self.transfers.status_lines() {
                    screen.system(line);
                }
            }
            UserCommand::Say(text) => {
                // The peer drops lines over the limit; better to say so here.
                let wire_len = self.name.len() + text.len() + 3;
                if wire_len > frame::MAX_LINE {
                    screen.system(format!(
                        "Message not sent: it is {wire_len} bytes and the limit is {} bytes.",
                        frame::MAX_LINE
                    ));
                    return ControlFlow::Continue(());
                }
                // (`sending` is false in pipe mode, which keeps to the core
                // event lines: scripts do not need telling.)
                if sending && !self.told_about_waiting {
                    screen.system("Messages typed now wait until the file transfer is done.");
                    self.told_about_waiting = true;
                }
                screen.own_message(self.name, &text);
                // Writing into a Vec cannot fail.
                let _ = frame::write_text(&mut self.texts, self.name, &text);
            }
            UserCommand::Send(args) => {
                for path in args.paths(|p| p.exists()) {
                    match OutgoingFile::open(&path) {
                        Ok(file) => {
                            let transfers = self.transfers;
                            let id = transfers.enqueue(Direction::Send, file.name(), file.size());
                            if sending {
                                screen.system(format!(
                                    "Queued {} ({}); it goes out after the transfers before it.",
                                    file.name(),
                                    progress::bytes(file.size())
                                ));
                            }
                            self.queue(Outgoing::File(file, id));
                        }
                        Err(e) => screen.system(format!("Cannot send {}: {e}", path.display())),
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// After our goodbye: lets the reader run until the peer closes too, or
/// [`LINGER`] passes. Returns a failure worth reporting, if any.
fn wait_for_peer(inbox: &Receiver<Event>, stream: &TcpStream) -> Option<WriteError> {
    let deadline = Instant::now() + LINGER;
    let mut failure = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(Event::PeerEnded(_)) => break,
            Ok(Event::WriterFailed(e)) => failure = Some(e),
            Ok(Event::Input(_) | Event::InputEnded | Event::Signal) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    // Ends the reader if the peer is still there.
    let _ = stream.shutdown(Shutdown::Both);
    failure
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .with_context(|| format!("cannot start the {name} thread"))
}

fn join(handle: JoinHandle<()>) -> Result<()> {
    let name = handle.thread().name().unwrap_or("worker").to_string();
    handle
        .join()
        .map_err(|_| anyhow!("internal error: the {name} thread failed"))
}

/// Reads the user's input on its own thread, so the main loop can react to
/// the peer while the user is not typing. Returns the means to stop the
/// line editor in interactive mode.
///
/// A thread blocked reading a pipe cannot be interrupted portably, so in
/// pipe mode the thread is not joined: it ends with the process.
fn spawn_input(
    input: Input,
    events: Sender<Event>,
    tickets: SyncSender<()>,
) -> Result<Option<EditorStop>> {
    match input {
        Input::Lines(lines) => {
            spawn("input", move || read_lines(lines, &events, &tickets))?;
            Ok(None)
        }
        Input::Editor(editor) => {
            let (stop, done) = EditorStop::new();
            spawn("input", move || {
                let _done = done;
                edit_lines(*editor, &events, &tickets);
            })?;
            Ok(Some(stop))
        }
    }
}

/// Bytes of input handed to the main loop in one event, at most (plus the
/// line that crosses the mark).
const INPUT_BATCH: usize = 64 * 1024;

/// Hands `event` (a batch of input) to the main loop once it has room.
fn deliver(event: Event, events: &Sender<Event>, tickets: &SyncSender<()>) -> bool {
    tickets.send(()).is_ok() && events.send(event).is_ok()
}

fn read_lines(
    mut lines: BufReader<Box<dyn Read + Send>>,
    events: &Sender<Event>,
    tickets: &SyncSender<()>,
) {
    loop {
        // Lines already read in together go on together: piped input costs
        // one hand-over per buffer, not one per line.
        let mut batch = Vec::new();
        let ended = loop {
            let buffered = match lines.fill_buf() {
                Ok([]) | Err(_) => break true,
                Ok(buffered) => buffered,
            };
            // Whole lines only; a line cut by the buffer's end is finished
            // by `read_until` (one that ends the input is taken as it is).
            match buffered.iter().rposition(|&b| b == b'\n') {
                Some(last) => {
                    batch.extend_from_slice(&buffered[..=last]);
                    lines.consume(last + 1);
                }
                None => match lines.read_until(b'\n', &mut batch) {
                    // An unreadable input ends like a closed one.
                    Ok(0) | Err(_) => break true,
                    Ok(_) => {}
                },
            }
            if batch.len() >= INPUT_BATCH || lines.buffer().is_empty() {
                break false;
            }
        };
        if !batch.is_empty() && !deliver(Event::Input(batch), events, tickets) {
            return;
        }
        if ended {
            let _ = events.send(Event::InputEnded);
            return;
        }
    }
}

fn edit_lines(editor: LineEditor, events: &Sender<Event>, tickets: &SyncSender<()>) {
    editor.run(|line| {
        let mut line = line.into_bytes();
        line.push(b'\n');
        deliver(Event::Input(line), events, tickets)
    });
    let _ = events.send(Event::InputEnded);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::screen::testing::captured;
    use std::io::{self, Read};
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    /// Runs a session whose user pipes in `typed` and then ends input;
    /// returns what the peer received and what the screen showed.
    fn session_with_input(typed: &[u8]) -> (Vec<u8>, Vec<String>) {
        let (ours, mut theirs) = pair();
        let probe = ours.try_clone().unwrap();
        let (screen, sink) = captured();
        let input = Input::lines(io::Cursor::new(typed.to_vec()));
        let peer = thread::spawn(move || {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).unwrap();
            got
        });
        let dl = DownloadDir::new(std::env::temp_dir().join("chat-session-unused"));
        let console = Console {
            input,
            screen: Arc::new(screen),
        };
        run(ours, "I049", dl, console).unwrap();
        assert!(
            probe.nodelay().unwrap(),
            "text must go out with TCP_NODELAY"
        );
        (peer.join().unwrap(), sink.lines())
    }

    #[test]
    fn text_goes_out_and_input_end_says_goodbye() {
        let (wire, lines) = session_with_input(b"hello\n\n/send\nsecond line\n");
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "[I049] hello\n[I049] second line\n[I049] has left the chat.\n"
        );
        assert_eq!(
            lines,
            [
                "[System] Usage: /send PATH... (quote paths that contain spaces)",
                "[System] Exiting."
            ]
        );
    }

    #[test]
    fn oversized_messages_are_refused_locally() {
        let long = format!("{}\n", "x".repeat(frame::MAX_LINE));
        let (wire, lines) = session_with_input(long.as_bytes());
        assert_eq!(wire, b"[I049] has left the chat.\n");
        assert!(lines[0].starts_with("[System] Message not sent: it is 65543 bytes"));
    }

    #[test]
    fn a_peer_reset_is_a_failure() {
        let (ours, theirs) = pair();
        let (screen, sink) = captured();
        let (typing, input) = endless_input();
        let peer = thread::spawn(move || {
            // Closing with unread data makes the kernel reset the connection.
            theirs.peek(&mut [0]).unwrap();
            drop(theirs);
        });
        typing.send(b"hi\n".to_vec()).unwrap();
        let dl = DownloadDir::new(std::env::temp_dir().join("chat-session-unused"));
        let console = Console {
            input,
            screen: Arc::new(screen),
        };
        let err = run(ours, "I049", dl, console).unwrap_err();
        peer.join().unwrap();
        let lines = sink.lines();
        assert!(
            lines[0].starts_with("[System] Connection lost: "),
            "{lines:?}"
        );
        assert_eq!(lines.last().map(String::as_str), Some("[System] Exiting."));
        assert!(format!("{err:#}").contains("lost"), "{err:#}");
    }

    /// A `BufRead` that blocks until its sender is dropped.
    fn endless_input() -> (mpsc::Sender<Vec<u8>>, Input) {
        struct Blocking(Receiver<Vec<u8>>, Vec<u8>, usize);
        impl Read for Blocking {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.fill_buf()?.len().min(buf.len());
                buf[..n].copy_from_slice(&self.1[self.2..self.2 + n]);
                self.consume(n);
                Ok(n)
            }
        }
        impl BufRead for Blocking {
            fn fill_buf(&mut self) -> io::Result<&[u8]> {
                if self.2 == self.1.len() {
                    self.1 = self.0.recv().unwrap_or_default();
                    self.2 = 0;
                }
                Ok(&self.1[self.2..])
            }
            fn consume(&mut self, n: usize) {
                self.2 += n;
            }
        }
        let (tx, rx) = mpsc::channel();
        (tx, Input::lines(Blocking(rx, Vec::new(), 0)))
    }
}
