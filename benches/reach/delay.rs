//! A TCP proxy on loopback that holds what passes through it for a fixed
//! time in each direction: a path with a long round trip, for a kernel
//! without netem. It reads whatever arrives at once, stamps it, and writes
//! it out when its time comes, so the delay adds to every round trip but
//! caps no bandwidth: nothing waits on what went before it except its
//! turn, and the queue holds far more than a second of loopback's bytes.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How much one read takes from a socket at most.
const READ_SIZE: usize = 256 * 1024;

/// Bytes held in one direction before reading waits: with a delay of
/// 50 ms this caps nothing below 5 GB/s.
const HELD_AT_MOST: usize = 256 << 20;

/// The proxy: connections to its port are passed on to the target's.
/// Stopped, with every connection through it, when dropped.
pub struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl DelayProxy {
    /// A proxy to `target` on 127.0.0.1 whose every byte arrives `one_way`
    /// after it was sent, either way.
    pub fn start(target: u16, one_way: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot listen for the proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let stop = stop.clone();
            thread::spawn(move || accept(listener, target, one_way, &stop))
        };
        Self {
            port,
            stop,
            accepting: Some(accepting),
        }
    }

    /// The port to connect to instead of the target's.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees that it must stop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// One connection through the proxy: its two sockets and the threads that
/// carry its two directions.
struct Link {
    sockets: [TcpStream; 2],
    threads: Vec<JoinHandle<()>>,
}

/// Takes connections until told to stop; then cuts those still open and
/// joins their threads.
fn accept(listener: TcpListener, target: u16, one_way: Duration, stop: &AtomicBool) {
    let mut links = Vec::new();
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = client else { continue };
        // A target that is gone refuses; the client then sees its
        // connection closed, as it would without the proxy.
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
            continue;
        };
        links.push(link(client, server, one_way));
    }
    for link in links {
        for socket in &link.sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        for thread in link.threads {
            let _ = thread.join();
        }
    }
}

fn link(client: TcpStream, server: TcpStream, one_way: Duration) -> Link {
    // What the proxy writes goes at once: the delay is its only one.
    for socket in [&client, &server] {
        socket.set_nodelay(true).expect("cannot set TCP_NODELAY");
    }
    let clone = |s: &TcpStream| s.try_clone().expect("cannot clone a socket");
    let mut threads = Vec::from(carry(clone(&client), clone(&server), one_way));
    threads.extend(carry(clone(&server), clone(&client), one_way));
    Link {
        sockets: [client, server],
        threads,
    }
}

/// What one direction holds: chunks with the moment each is due, an
/// empty chunk standing for the end of the stream.
#[derive(Default)]
struct Held {
    chunks: VecDeque<(Instant, Vec<u8>)>,
    bytes: usize,
    /// The receiving side is gone: nothing more is taken.
    broken: bool,
}

#[derive(Default)]
struct Queue {
    held: Mutex<Held>,
    changed: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, held: MutexGuard<'a, Held>) -> MutexGuard<'a, Held> {
        self.changed.wait(held).unwrap_or_else(|e| e.into_inner())
    }
}

/// The threads that carry what `from` sends to `to`, `one_way` later.
fn carry(from: TcpStream, to: TcpStream, one_way: Duration) -> [JoinHandle<()>; 2] {
    let queue = Arc::new(Queue::default());
    let reading = {
        let (queue, from) = (
            queue.clone(),
            from.try_clone().expect("cannot clone a socket"),
        );
        thread::spawn(move || take_in(from, &queue, one_way))
    };
    let writing = thread::spawn(move || give_out(to, from, &queue));
    [reading, writing]
}

/// Reads what arrives, each piece stamped with when it is due, until the
/// stream ends (which is passed on too) or the other side is gone.
fn take_in(mut from: TcpStream, queue: &Queue, one_way: Duration) {
    let mut buffer = vec![0; READ_SIZE];
    loop {
        let n = from.read(&mut buffer).unwrap_or(0);
        let due = Instant::now() + one_way;
        let mut held = queue.lock();
        while held.bytes >= HELD_AT_MOST && !held.broken {
            held = queue.wait(held);
        }
        if held.broken {
            return;
        }
        held.bytes += n;
        held.chunks.push_back((due, buffer[..n].to_vec()));
        queue.changed.notify_all();
        if n == 0 {
            return;
        }
    }
}

/// Writes each piece once it is due; at the end of the stream, ends the
/// stream on `to`. When `to` cannot be written, both sockets are cut, as
/// a reset would.
fn give_out(mut to: TcpStream, from: TcpStream, queue: &Queue) {
    loop {
        let (due, chunk) = {
            let mut held = queue.lock();
            loop {
                if let Some(next) = held.chunks.pop_front() {
                    break next;
                }
                held = queue.wait(held);
            }
        };
        thread::sleep(due.saturating_duration_since(Instant::now()));
        if chunk.is_empty() {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        if to.write_all(&chunk).is_err() {
            queue.lock().broken = true;
            queue.changed.notify_all();
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
        queue.lock().bytes -= chunk.len();
        queue.changed.notify_all();
    }
}
