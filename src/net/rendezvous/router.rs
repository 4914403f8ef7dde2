//! The port a listener asks its home router to forward to it (UPnP-IGD or
//! NAT-PMP), so that a peer behind another router can connect directly:
//! asked for on a thread of its own while the code is registered, given
//! to the peer once the router answered, removed when the chat ends.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;

use super::listening::Reporter;
use crate::net::events::{AnywhereStep, LinkEvent};
use crate::net::portmap::PortMapping;

/// How long the router has to answer.
const ANSWER_WITHIN: Duration = Duration::from_millis(2500);

/// The router's answer, once it came; clones share it.
#[derive(Clone, Default)]
pub(super) struct Router(Arc<(Mutex<Answer>, Condvar)>);

#[derive(Default)]
enum Answer {
    /// Nothing was asked.
    #[default]
    NotAsked,
    Waiting,
    /// The mapping, if one was made; dropping it removes it.
    Came(Option<PortMapping>),
}

impl Router {
    pub(super) fn none() -> Self {
        Self::default()
    }

    /// Asks the router to forward `port`, on a thread of its own, saying
    /// through `report` what it answered.
    pub(super) fn ask(port: u16, report: Reporter) -> Result<Self> {
        let router = Router::default();
        *router.lock() = Answer::Waiting;
        let answer = router.clone();
        crate::threads::spawn("router", move || {
            let mapping = match PortMapping::open(port, ANSWER_WITHIN) {
                Ok(mapping) => {
                    report(LinkEvent::Anywhere(AnywhereStep::PortMapped {
                        external: mapping.external(),
                        method: mapping.method(),
                    }));
                    Some(mapping)
                }
                Err(e) => {
                    report(LinkEvent::Anywhere(AnywhereStep::NotMapped(&e)));
                    None
                }
            };
            *answer.lock() = Answer::Came(mapping);
            answer.0.1.notify_all();
        })?;
        Ok(router)
    }

    /// The address the router forwards, waiting for its answer if it is
    /// still to come; `None` when it opened nothing.
    pub(super) fn external(&self) -> Option<SocketAddr> {
        let mut answer = self.lock();
        while matches!(*answer, Answer::Waiting) {
            answer = self
                .0
                .1
                .wait(answer)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match &*answer {
            Answer::Came(Some(mapping)) => Some(mapping.external()),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Answer> {
        self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
