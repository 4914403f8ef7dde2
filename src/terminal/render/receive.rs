//! The lines of files and folders arriving.

use crate::files::size::bytes;
use crate::session::events::ReceiveEvent;

/// The line a step of a transfer shows.
pub(super) fn line(event: ReceiveEvent<'_>) -> String {
    match event {
        ReceiveEvent::Incoming { name, size } => {
            format!("Incoming file {name} ({})...", bytes(size))
        }
        ReceiveEvent::NotSaved { name, why } => format!("Could not save file {name}: {why}"),
        ReceiveEvent::Incomplete { name, why } => {
            format!("Transfer of {name} incomplete: {why}; nothing was saved.")
        }
    }
}
