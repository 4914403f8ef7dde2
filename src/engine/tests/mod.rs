//! Unit tests of the engine: conversations run over a socket pair inside
//! the test, each side with a front end that records the typed events it
//! is shown, driven by typed commands. No process, no network, no sleep.

mod conversations;
mod hostile;
mod receiving;
mod rooms;
mod sending;
mod transfers;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::engine::command::Command;
use crate::engine::{Event, Frontend};
use crate::files::download::DownloadDir;
use crate::net::connect::Established;
use crate::net::patience::Patience;
use crate::net::secure::Protection;
use crate::net::secure::handshake::{Credentials, Side};
use crate::net::transport::Connection;
use crate::session::events::ChatEvent;
use crate::session::{self, News};
use crate::settings::{Asking, Role, Settings};

/// How long a test waits for what it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A front end that keeps each event it is shown, in its typed value's
/// debug form (the peer's raw lines as text), for a test to wait on.
#[derive(Default)]
pub(super) struct Recorder {
    shown: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Frontend for Recorder {
    fn show(&self, event: Event<'_>) {
        let text = match &event {
            Event::Chat(ChatEvent::PeerLine { raw, .. } | ChatEvent::PeerLines { raw, .. }) => {
                format!("PeerLine {:?}", String::from_utf8_lossy(raw))
            }
            event => format!("{event:?}"),
        };
        self.lock().push(text);
        self.changed.notify_all();
    }

    fn attended(&self) -> bool {
        false
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.shown.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for an event whose form holds every one of `parts`, and gives
    /// its form; fails, listing what was shown, after [`PATIENCE`].
    pub(super) fn wait_for(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut shown = self.lock();
        loop {
            if let Some(found) = shown.iter().find(|e| parts.iter().all(|p| e.contains(p))) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no event with {parts:?}; shown:\n{}",
                shown.join("\n")
            );
            shown = self
                .changed
                .wait_timeout(shown, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Whether an event whose form holds every one of `parts` was shown.
    pub(super) fn saw(&self, parts: &[&str]) -> bool {
        self.lock()
            .iter()
            .any(|e| parts.iter().all(|p| e.contains(p)))
    }
}

/// Which wire two sides speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire {
    Plain,
    Encrypted,
}

/// One side of a conversation running on a thread of its own.
pub(super) struct Person {
    pub front: Arc<Recorder>,
    pub downloads: PathBuf,
    news: Sender<News>,
    running: Option<JoinHandle<Result<()>>>,
}

impl Person {
    /// A side whose conversation already runs.
    pub fn running(
        front: Arc<Recorder>,
        downloads: PathBuf,
        news: Sender<News>,
        running: JoinHandle<Result<()>>,
    ) -> Self {
        Self {
            front,
            downloads,
            news,
            running: Some(running),
        }
    }

    pub fn order(&self, command: Command) {
        self.news
            .send(News::Command(command))
            .expect("the conversation takes commands until it ends");
    }

    /// Waits for the conversation to end, and gives how it ended.
    pub fn ended(mut self) -> Result<()> {
        let running = self.running.take().expect("joined once");
        running
            .join()
            .expect("the conversation's thread does not panic")
    }
}

/// How a test wants a side set up.
#[derive(Clone, Copy)]
pub(super) struct Setup {
    pub wire: Wire,
    /// Offers above this many bytes wait for `/accept`.
    pub ask_above: Option<u64>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            wire: Wire::Encrypted,
            ask_above: None,
        }
    }
}

/// A fresh, empty scratch folder for one test.
pub(super) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// Ana listens, Bea connects: their connection is made inside the test,
/// with the real handshake on the encrypted wire.
pub(super) fn meet(test: &str, ana: Setup, bea: Setup) -> (Person, Person) {
    let (mut one, mut other) = Connection::local_pair().expect("a socket pair");
    let (ours, theirs) = match (ana.wire, bea.wire) {
        (Wire::Plain, Wire::Plain) => (None, None),
        _ => {
            let handshake = std::thread::spawn(move || {
                let agreed = other.encrypt(
                    Side::Connecting,
                    Credentials::of_test(3, None),
                    None,
                    PATIENCE,
                );
                (other, agreed)
            });
            let ours = one.encrypt(
                Side::Listening,
                Credentials::of_test(2, None),
                None,
                PATIENCE,
            );
            let (back, theirs) = handshake.join().expect("no panic");
            other = back;
            (
                Some(ours.expect("a handshake")),
                Some(theirs.expect("a handshake")),
            )
        }
    };
    let ana = start(
        test,
        "ana",
        ana,
        Established {
            connection: one,
            agreed: ours,
        },
    );
    let bea = start(
        test,
        "bea",
        bea,
        Established {
            connection: other,
            agreed: theirs,
        },
    );
    (ana, bea)
}

fn start(test: &str, name: &str, setup: Setup, established: Established) -> Person {
    let downloads = scratch(&format!("{test}-{name}"));
    let settings = settings(name, setup, &downloads);
    let front = Arc::new(Recorder::default());
    let (news, inbox) = mpsc::channel();
    let running = {
        let (front, news) = (front.clone(), news.clone());
        std::thread::spawn(move || session::converse(&settings, front, established, (news, inbox)))
    };
    Person {
        front,
        downloads,
        news,
        running: Some(running),
    }
}

fn settings(name: &str, setup: Setup, downloads: &Path) -> Settings {
    Settings {
        role: match name {
            "ana" => Role::Listen {
                host: "127.0.0.1".into(),
                port: 0,
            },
            _ => Role::Connect {
                host: "127.0.0.1".into(),
                port: 0,
                wait: Patience::from_secs(1),
            },
        },
        name: name.into(),
        downloads: DownloadDir::new(downloads),
        stall: Duration::from_secs(30),
        protection: match setup.wire {
            Wire::Plain => Protection::Plain,
            Wire::Encrypted => Protection::for_tests(2),
        },
        made_code: false,
        anywhere: None,
        trust_verified: false,
        me: match setup.wire {
            Wire::Plain => None,
            Wire::Encrypted => Some(crate::identity::Me::for_tests(2)),
        },
        asking: match setup.ask_above {
            Some(limit) => Asking::Above(limit),
            None => Asking::Never,
        },
        room: None,
        announce: false,
    }
}
