//! A connected conversation: the reader thread that turns the peer's bytes
//! into lines and files, the writer thread that owns the socket's write half,
//! and the main loop that acts on the user's input.
//!
//! Every thread reports to the main loop through one channel of [`Event`]s,
//! so the loop notices the peer leaving at once, without waiting for the user
//! to type.

use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::download::DownloadDir;
use crate::frame::{self, Frame, FrameError, FrameReader};
use crate::input::{self, UserCommand};
use crate::sanitize;
use crate::screen::Screen;
use crate::transfer::{self, OutgoingFile, ReceiveError};

/// How long to wait for the peer to close after we have said goodbye. Closing
/// while the peer still sends would reset the connection and could destroy
/// data of ours it has not read yet.
const LINGER: Duration = Duration::from_secs(2);

/// Socket buffer sizes for our side of the stream.
const IO_BUFFER: usize = 64 * 1024;

/// What the main loop hears about.
enum Event {
    /// A line the user typed (or piped).
    Input(Vec<u8>),
    /// The user's input ended.
    InputEnded,
    /// The reader thread is done: the peer's side of the stream ended.
    PeerEnded(PeerEnd),
    /// The writer thread could not send; the connection is unusable.
    WriterFailed(anyhow::Error),
}

/// How the peer's side of the stream ended.
#[derive(Debug)]
enum PeerEnd {
    /// Closed cleanly between frames.
    Left,
    /// Closed in the middle of a file; the reader has said what was lost.
    Cut(ReceiveError),
    /// Failed with an error, such as a reset.
    Lost(io::Error),
}

/// What the main loop asks the writer thread to send, in order.
enum Outgoing {
    Text(String),
    File(OutgoingFile),
    /// Say goodbye and shut our write half down.
    Leave,
}

/// Runs a conversation on `stream` until either side leaves. `input` is the
/// user's line-by-line input; all output goes to `screen`.
pub fn run(
    stream: TcpStream,
    name: &str,
    downloads: DownloadDir,
    input: Box<dyn BufRead + Send>,
    screen: Arc<Screen>,
) -> Result<()> {
    // Chat lines are small and typed one at a time; Nagle's algorithm would
    // hold each back waiting for an acknowledgement.
    stream.set_nodelay(true).context("cannot set TCP_NODELAY")?;
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "the peer".to_string(), |a| a.to_string());
    let (events, inbox) = mpsc::channel();
    let (outbox, queue) = mpsc::channel();

    spawn_input(input, events.clone())?;
    let reader = {
        let stream = stream.try_clone().context("cannot share the connection")?;
        let (screen, events) = (screen.clone(), events.clone());
        thread::Builder::new()
            .name("reader".into())
            .spawn(move || {
                let end = read_peer(stream, &downloads, &screen);
                let _ = events.send(Event::PeerEnded(end));
            })
            .context("cannot start the reader thread")?
    };
    let writer = {
        let stream = stream.try_clone().context("cannot share the connection")?;
        let (screen, name) = (screen.clone(), name.to_string());
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || {
                if let Err(e) = write_peer(stream, &name, queue, &screen) {
                    let _ = events.send(Event::WriterFailed(e));
                }
            })
            .context("cannot start the writer thread")?
    };

    let ending = converse(&inbox, &outbox, name, &screen);
    let result = match ending {
        Ending::Quit => {
            let _ = outbox.send(Outgoing::Leave);
            drop(outbox);
            join(writer)?;
            let failure = wait_for_peer(&inbox, &stream);
            join(reader)?;
            failure.map_or(Ok(()), Err)
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
            screen.system(format!("Connection lost: {e:#}"));
            let _ = stream.shutdown(Shutdown::Both);
            drop(outbox);
            join(writer)?;
            join(reader)?;
            Err(e.context(format!("connection with {peer} lost")))
        }
    };
    screen.system("Exiting.");
    result
}

/// Why the main loop stopped.
enum Ending {
    Quit,
    Peer(PeerEnd),
    WriterFailed(anyhow::Error),
}

/// The main loop: acts on the user's lines until the user quits or the
/// connection ends.
fn converse(
    inbox: &Receiver<Event>,
    outbox: &Sender<Outgoing>,
    name: &str,
    screen: &Screen,
) -> Ending {
    while let Ok(event) = inbox.recv() {
        let line = match event {
            Event::Input(line) => line,
            Event::InputEnded => return Ending::Quit,
            Event::PeerEnded(end) => return Ending::Peer(end),
            Event::WriterFailed(e) => return Ending::WriterFailed(e),
        };
        let outgoing = match input::parse(&String::from_utf8_lossy(&line)) {
            UserCommand::Nothing => continue,
            UserCommand::Quit => return Ending::Quit,
            UserCommand::Usage(text) => {
                screen.system(text);
                continue;
            }
            UserCommand::Say(text) => {
                // The peer drops lines over the limit; better to say so here.
                let wire_len = name.len() + text.len() + 3;
                if wire_len > frame::MAX_LINE {
                    screen.system(format!(
                        "Message not sent: it is {wire_len} bytes and the limit is {} bytes.",
                        frame::MAX_LINE
                    ));
                    continue;
                }
                Outgoing::Text(text)
            }
            UserCommand::Send(path) => match OutgoingFile::open(&path) {
                Ok(file) => Outgoing::File(file),
                Err(e) => {
                    screen.system(format!("Cannot send {}: {e}", path.display()));
                    continue;
                }
            },
        };
        if outbox.send(outgoing).is_err() {
            // The writer has stopped; its reason is already on its way.
            continue;
        }
    }
    // Every sender is gone, which only happens once all threads ended.
    Ending::Quit
}

/// After our goodbye: lets the reader run until the peer closes too, or
/// [`LINGER`] passes. Returns a failure worth reporting, if any.
fn wait_for_peer(inbox: &Receiver<Event>, stream: &TcpStream) -> Option<anyhow::Error> {
    let deadline = Instant::now() + LINGER;
    let mut failure = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(Event::PeerEnded(_)) => break,
            Ok(Event::WriterFailed(e)) => failure = Some(e),
            Ok(Event::Input(_) | Event::InputEnded) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    // Ends the reader if the peer is still there.
    let _ = stream.shutdown(Shutdown::Both);
    failure
}

fn join(handle: JoinHandle<()>) -> Result<()> {
    let name = handle.thread().name().unwrap_or("worker").to_string();
    handle
        .join()
        .map_err(|_| anyhow!("internal error: the {name} thread failed"))
}

/// Reads the user's input on its own thread, so the main loop can react to
/// the peer while the user is not typing. A thread blocked reading stdin
/// cannot be interrupted portably, so this one is not joined: it ends with
/// the process.
fn spawn_input(mut input: Box<dyn BufRead + Send>, events: Sender<Event>) -> Result<()> {
    thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            loop {
                let mut line = Vec::new();
                match input.read_until(b'\n', &mut line) {
                    // An unreadable input ends like a closed one.
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if events.send(Event::Input(line)).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = events.send(Event::InputEnded);
        })
        .context("cannot start the input thread")?;
    Ok(())
}

/// The reader thread: decodes the peer's stream, prints its lines and saves
/// its files, until the stream ends.
fn read_peer(stream: TcpStream, downloads: &DownloadDir, screen: &Screen) -> PeerEnd {
    let mut frames = FrameReader::new(BufReader::with_capacity(IO_BUFFER, stream));
    loop {
        match frames.next_frame() {
            Ok(None) => return PeerEnd::Left,
            Ok(Some(Frame::Text(line))) => screen.peer_line(&line),
            Ok(Some(Frame::File { name, size })) => {
                let shown = sanitize::for_terminal(name.as_bytes());
                screen.system(format!("Incoming file {shown} ({size} bytes)..."));
                match transfer::receive(&mut frames.payload(size), size, downloads, &name) {
                    Ok(path) => screen.system(format!("File saved to {}", path.display())),
                    Err(ReceiveError::Save(e)) => {
                        screen.system(format!("Could not save file {shown}: {e}"));
                    }
                    Err(e @ ReceiveError::Incomplete { .. }) => {
                        screen.system(format!(
                            "Transfer of {shown} incomplete: {e}; nothing was saved."
                        ));
                        return PeerEnd::Cut(e);
                    }
                }
            }
            Err(FrameError::MalformedHeader(why)) => {
                screen.system(format!("Ignored malformed file header from peer: {why}"));
            }
            Err(FrameError::LineTooLong { len }) => screen.system(format!(
                "Dropped a line of {len} bytes from peer (the limit is {} bytes).",
                frame::MAX_LINE
            )),
            Err(FrameError::EndedMidLine { partial }) => {
                // A last line without its newline (`printf hi | nc`) is still
                // text the peer meant to send.
                screen.peer_line(&partial);
                return PeerEnd::Left;
            }
            Err(FrameError::Io(e)) => return PeerEnd::Lost(e),
        }
    }
}

/// The writer thread: sends what the main loop queues, in order. Text is
/// flushed only when the queue is empty, so piped input goes out in large
/// writes while a single typed line still leaves at once.
fn write_peer(
    stream: TcpStream,
    name: &str,
    queue: Receiver<Outgoing>,
    screen: &Screen,
) -> Result<()> {
    let mut out = BufWriter::with_capacity(IO_BUFFER, &stream);
    let Ok(mut next) = queue.recv() else {
        return Ok(());
    };
    loop {
        match next {
            Outgoing::Text(text) => frame::write_text(&mut out, name, &text)?,
            Outgoing::File(file) => {
                let (shown, size) = (file.name().to_string(), file.size());
                file.send(&mut out)?;
                out.flush()?;
                screen.system(format!("Sent file {shown} ({size} bytes)"));
            }
            Outgoing::Leave => {
                frame::write_text(&mut out, name, frame::leave_message())?;
                out.flush()?;
                stream.shutdown(Shutdown::Write)?;
                return Ok(());
            }
        }
        next = match queue.try_recv() {
            Ok(outgoing) => outgoing,
            Err(TryRecvError::Empty) => {
                out.flush()?;
                match queue.recv() {
                    Ok(outgoing) => outgoing,
                    Err(_) => return Ok(()),
                }
            }
            Err(TryRecvError::Disconnected) => {
                out.flush()?;
                return Ok(());
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::testing::captured;
    use std::io::Read;
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
        let input: Box<dyn BufRead + Send> = Box::new(io::Cursor::new(typed.to_vec()));
        let peer = thread::spawn(move || {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).unwrap();
            got
        });
        let dl = DownloadDir::new(std::env::temp_dir().join("chat-session-unused"));
        run(ours, "I049", dl, input, Arc::new(screen)).unwrap();
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
        assert_eq!(lines, ["[System] Usage: /send PATH", "[System] Exiting."]);
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
        let err = run(ours, "I049", dl, input, Arc::new(screen)).unwrap_err();
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
    fn endless_input() -> (Sender<Vec<u8>>, Box<dyn BufRead + Send>) {
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
        (tx, Box::new(Blocking(rx, Vec::new(), 0)))
    }
}
