//! The lines of files and folders arriving.

use crate::files::size::{bytes, files};
use crate::session::events::{Here, Offered, ReceiveEvent, Refusal, Unsaved};

/// What becomes of what arrived of a transfer that was cut.
const RESUMES: &str = "what arrived is kept, so sending it again resumes";
const NOTHING_SAVED: &str = "nothing was saved";

/// The line a step of a transfer shows.
pub(super) fn line(event: ReceiveEvent<'_>) -> String {
    match event {
        ReceiveEvent::Incoming { name, size } => {
            format!("Incoming file {name} ({})...", bytes(size))
        }
        ReceiveEvent::NotSaved { name, why } => format!("Could not save file {name}: {why}"),
        ReceiveEvent::Incomplete { name, why } => {
            format!("Transfer of {name} incomplete: {why}; {NOTHING_SAVED}.")
        }
        ReceiveEvent::KeptUnusable(why) => {
            format!("{why}: files offered are refused until it is removed.")
        }
        ReceiveEvent::Asked {
            offered,
            peer,
            transfer,
            here,
        } => asked(offered, peer, transfer, here),
        ReceiveEvent::Arriving(offered) => format!("Incoming {}...", with_kind(offered)),
        ReceiveEvent::Checking(offered) => format!(
            "Checking {} against the file of that name here...",
            shown(offered)
        ),
        ReceiveEvent::Resuming { name, kept, size } => format!(
            "Resuming {name}: {} of {} kept from before.",
            bytes(kept),
            bytes(size)
        ),
        ReceiveEvent::Differs { name, size } => format!(
            "Incoming file {name} ({}): it differs from the file of that name here...",
            bytes(size)
        ),
        // (The host sends it whole when another member needs it all.)
        ReceiveEvent::ComesWhole { name, size, from } => format!(
            "Incoming file {name} ({}) from {from}: it comes whole, and is compared with the \
             file of that name here at its end...",
            bytes(size)
        ),
        ReceiveEvent::Declined { offered, why } => {
            format!("Declined {}: {}.", shown(offered), refusal(why))
        }
        ReceiveEvent::DiffersNoRoom { name, size, why } => format!(
            "Declined {name} ({}), which differs from the file of that name here: {why}.",
            bytes(size)
        ),
        ReceiveEvent::CannotSave { what, why } => {
            format!("Could not save {}: {why}", unsaved(what))
        }
        event @ (ReceiveEvent::Damaged { .. }
        | ReceiveEvent::AlreadyThere { .. }
        | ReceiveEvent::ChangedWhileCompared { .. }
        | ReceiveEvent::Withdrawn { .. }
        | ReceiveEvent::Stopped { .. }
        | ReceiveEvent::IncompleteKept { .. }
        | ReceiveEvent::IncompleteUntouched { .. }
        | ReceiveEvent::FolderIncomplete { .. }) => ended(event),
        event @ (ReceiveEvent::SenderLeft { .. }
        | ReceiveEvent::FolderSenderLeft { .. }
        | ReceiveEvent::OfferSenderLeft { .. }
        | ReceiveEvent::SkippedFile { .. }
        | ReceiveEvent::SkippedSubfolder { .. }
        | ReceiveEvent::FolderRefused { .. }
        | ReceiveEvent::FolderMissing { .. }
        | ReceiveEvent::FolderSaved { .. }
        | ReceiveEvent::LeftOut { .. }) => in_room_or_folder(event),
    }
}

/// The lines of a file or folder that ended before it was saved.
fn ended(event: ReceiveEvent<'_>) -> String {
    match event {
        ReceiveEvent::Damaged { name } => {
            format!("{name} arrived damaged (its hash does not match); {NOTHING_SAVED}.")
        }
        ReceiveEvent::AlreadyThere {
            name,
            from,
            came_whole,
        } => {
            let note = match (came_whole, from) {
                (false, _) => "",
                (true, Some(_)) => " (it came whole: others in the room needed it)",
                (true, None) => " (it came whole)",
            };
            format!("{}: already there, identical{note}", named(name, from))
        }
        ReceiveEvent::ChangedWhileCompared { name, from } => format!(
            "{}: the file here changed while it was compared; {NOTHING_SAVED}.",
            named(name, from)
        ),
        ReceiveEvent::Withdrawn { name } => format!("The peer withdrew its offer of {name}."),
        ReceiveEvent::Stopped {
            name,
            folder: false,
        } => format!("The peer stopped sending {name}; {NOTHING_SAVED}."),
        ReceiveEvent::Stopped { name, folder: true } => {
            format!("The peer stopped sending folder {name}; what arrived of it was removed.")
        }
        ReceiveEvent::IncompleteKept { name, why } => {
            format!("Transfer of {name} incomplete: {why}; {RESUMES}.")
        }
        ReceiveEvent::IncompleteUntouched { name } => format!(
            "Transfer of {name} incomplete: nothing arrived, and the file of that name here is \
             untouched."
        ),
        ReceiveEvent::FolderIncomplete {
            name,
            why,
            saved,
            files,
            kept,
        } => format!(
            "Folder {name} incomplete: {why} ({saved} of {files} files); {}.",
            resume(kept)
        ),
        event => unreachable!("{event:?} is not handed to `ended`"),
    }
}

/// The lines of a room's member leaving, and of what arrives in a folder.
fn in_room_or_folder(event: ReceiveEvent<'_>) -> String {
    match event {
        ReceiveEvent::SenderLeft { name, kept } => format!(
            "Transfer of {name} incomplete: its sender left the room; {}.",
            resume(kept)
        ),
        ReceiveEvent::FolderSenderLeft {
            name,
            saved,
            files,
            kept,
        } => format!(
            "Folder {name} incomplete: its sender left the room ({saved} of {files} files); {}.",
            resume(kept)
        ),
        ReceiveEvent::OfferSenderLeft { name } => {
            format!("The offer of {name} is over: its sender left the room.")
        }
        ReceiveEvent::SkippedFile { path } => {
            format!("Skipped {path}: its path is unsafe or names another file of the folder.")
        }
        ReceiveEvent::SkippedSubfolder { path } => format!("Skipped {path}: its path is unsafe."),
        ReceiveEvent::FolderRefused { name, why } => format!(
            "Refused folder {name}: {}; what arrived of it was removed.",
            refusal(why)
        ),
        ReceiveEvent::FolderMissing { name, failed } => {
            let them = if failed == 1 { "file" } else { "files" };
            format!("Folder {name} incomplete: {failed} {them} did not arrive; {RESUMES}.")
        }
        ReceiveEvent::FolderSaved {
            path,
            files: saved,
            bytes: size,
            summary,
        } => {
            let (path, saved, size) = (path.display(), files(saved), bytes(size));
            match summary {
                Some(summary) => format!("Folder saved to {path} ({saved}, {size}, {summary})"),
                None => format!("Folder saved to {path} ({saved}, {size})"),
            }
        }
        ReceiveEvent::LeftOut {
            name,
            files: left,
            bytes: size,
            announced,
        } => {
            let them = if left == 1 { "it" } else { "them" };
            format!(
                "Folder {name} came without {} of the {announced} announced ({}): the sender \
                 left {them} out.",
                files(left),
                bytes(size)
            )
        }
        event => unreachable!("{event:?} is not handed to `in_room_or_folder`"),
    }
}

/// The question an offer that waits for the user asks.
fn asked(offered: Offered<'_>, peer: &str, transfer: u64, here: Here) -> String {
    let by = offered.from.unwrap_or(peer);
    let note = match here {
        Here::Nothing => String::new(),
        Here::Kept(held) => format!(
            ", would resume: {} of {} kept",
            bytes(held),
            bytes(offered.size)
        ),
        Here::There => {
            ", a file of this name and size is there already: if identical, nothing travels"
                .to_string()
        }
    };
    format!(
        "{by} offers {}{}: /accept {transfer} or /decline {transfer}",
        kind(offered),
        sized(offered, &note)
    )
}

/// `folder ` for a folder, nothing for a file.
fn kind(offered: Offered<'_>) -> &'static str {
    match offered.files {
        Some(_) => "folder ",
        None => "",
    }
}

/// `notes.pdf (1.0 MiB NOTE)` or `photos (3 files, 1.0 MiB NOTE)`.
fn sized(offered: Offered<'_>, note: &str) -> String {
    let size = bytes(offered.size);
    match offered.files {
        Some(count) => format!("{} ({}, {size}{note})", offered.name, files(count)),
        None => format!("{} ({size}{note})", offered.name),
    }
}

/// `notes.pdf (1.0 MiB)` or `folder photos (3 files, 1.0 MiB)`, and whom
/// it is from in a room.
fn shown(offered: Offered<'_>) -> String {
    let what = format!("{}{}", kind(offered), sized(offered, ""));
    match offered.from {
        Some(from) => format!("{what} from {from}"),
        None => what,
    }
}

/// As [`shown`], with `file ` before a file.
fn with_kind(offered: Offered<'_>) -> String {
    match offered.files {
        Some(_) => shown(offered),
        None => format!("file {}", shown(offered)),
    }
}

/// A file's name, and whom it is from in a room.
fn named(name: &str, from: Option<&str>) -> String {
    match from {
        Some(from) => format!("{name} from {from}"),
        None => name.to_string(),
    }
}

fn unsaved(what: Unsaved<'_>) -> String {
    match what {
        Unsaved::Offer(offered) => with_kind(offered),
        Unsaved::File(name) => format!("file {name}"),
        Unsaved::Folder(name) => format!("folder {name}"),
    }
}

fn refusal(why: Refusal<'_>) -> String {
    match why {
        Refusal::NoRoom(why) => why.to_string(),
        Refusal::TooManyFiles { limit } => {
            format!("it has more than the {limit} files a folder may have")
        }
        Refusal::TooManyFolders {
            allowed,
            files: count,
        } => format!(
            "it makes more folders than the {allowed} a folder of {} may hold",
            files(count)
        ),
    }
}

/// What became of what arrived of a transfer that was cut.
fn resume(kept: bool) -> &'static str {
    if kept { RESUMES } else { NOTHING_SAVED }
}
