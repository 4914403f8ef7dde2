//! The lines of files and folders arriving.

use crate::files::size::{bytes, files};
use crate::session::events::{Here, Offered, ReceiveEvent, Refusal, Unsaved};
use crate::session::progress::Summary;

/// What becomes of what arrived of a transfer that was cut.
const RESUMES: &str = "what arrived is kept, so sending it again resumes";
const NOTHING_SAVED: &str = "nothing was saved";

/// The line a step of a transfer shows.
pub(super) fn line(event: ReceiveEvent<'_>) -> String {
    use ReceiveEvent as R;
    match event {
        R::Saved { path, summary } => saved(path, summary),
        R::Accepted { name } => format!("Accepted {name}."),
        R::DeclinedByUs { name, to } => format!("Declined {name}; {to} was told."),
        R::CancelledByUs { name } => format!("Cancelled {name}; what arrived of it is removed."),
        R::Incoming { name, size } => format!("Incoming file {name} ({})...", bytes(size)),
        R::NotSaved { name, why } => format!("Could not save file {name}: {why}"),
        R::Incomplete { name, why } => {
            format!("Transfer of {name} incomplete: {why}; {NOTHING_SAVED}.")
        }
        R::KeptUnusable(why) => format!("{why}: files offered are refused until it is removed."),
        R::Asked {
            offered,
            peer,
            transfer,
            here,
        } => asked(offered, peer, transfer, here),
        R::Arriving(offered) => format!("Incoming {}...", with_kind(offered)),
        R::Checking(offered) => format!(
            "Checking {} against the file of that name here...",
            shown(offered)
        ),
        R::Resuming { name, kept, size } => resuming(name, kept, size),
        R::Differs { name, size } => differs(name, size),
        R::ComesWhole { name, size, from } => comes_whole(name, size, from),
        R::Declined { offered, why } => format!("Declined {}: {}.", shown(offered), refusal(why)),
        R::DiffersNoRoom { name, size, why } => differs_no_room(name, size, why),
        R::CannotSave { what, why } => format!("Could not save {}: {why}", unsaved(what)),
        R::Damaged { name } => {
            format!("{name} arrived damaged (its hash does not match); {NOTHING_SAVED}.")
        }
        R::AlreadyThere {
            name,
            from,
            came_whole,
        } => already_there(name, from, came_whole),
        R::ChangedWhileCompared { name, from } => changed_while_compared(name, from),
        R::Withdrawn { name } => format!("The peer withdrew its offer of {name}."),
        R::Stopped { name, folder } => stopped(name, folder),
        R::IncompleteKept { name, why } => {
            format!("Transfer of {name} incomplete: {why}; {RESUMES}.")
        }
        R::IncompleteUntouched { name } => incomplete_untouched(name),
        R::FolderIncomplete {
            name,
            why,
            saved,
            files,
            kept,
        } => folder_incomplete(name, &why.to_string(), saved, files, kept),
        R::SenderLeft { name, kept } => sender_left(name, kept),
        R::FolderSenderLeft {
            name,
            saved,
            files,
            kept,
        } => folder_incomplete(name, "its sender left the room", saved, files, kept),
        R::OfferSenderLeft { name } => {
            format!("The offer of {name} is over: its sender left the room.")
        }
        R::SkippedFile { path } => skipped_file(path),
        R::SkippedSubfolder { path } => format!("Skipped {path}: its path is unsafe."),
        R::FolderRefused { name, why } => folder_refused(name, why),
        R::FolderMissing { name, failed } => folder_missing(name, failed),
        R::FolderSaved {
            path,
            files,
            bytes,
            summary,
        } => folder_saved(path, files, bytes, summary),
        R::LeftOut {
            name,
            files,
            bytes,
            announced,
        } => left_out(name, files, bytes, announced),
    }
}

fn saved(path: &std::path::Path, summary: Option<&Summary>) -> String {
    match summary {
        Some(summary) => format!("File saved to {} ({summary})", path.display()),
        None => format!("File saved to {}", path.display()),
    }
}

fn resuming(name: &str, kept: u64, size: u64) -> String {
    format!(
        "Resuming {name}: {} of {} kept from before.",
        bytes(kept),
        bytes(size)
    )
}

fn differs(name: &str, size: u64) -> String {
    format!(
        "Incoming file {name} ({}): it differs from the file of that name here...",
        bytes(size)
    )
}

/// (The host sends it whole when another member needs it all.)
fn comes_whole(name: &str, size: u64, from: &str) -> String {
    format!(
        "Incoming file {name} ({}) from {from}: it comes whole, and is compared with the file \
         of that name here at its end...",
        bytes(size)
    )
}

fn differs_no_room(name: &str, size: u64, why: &dyn std::fmt::Display) -> String {
    format!(
        "Declined {name} ({}), which differs from the file of that name here: {why}.",
        bytes(size)
    )
}

fn already_there(name: &str, from: Option<&str>, came_whole: bool) -> String {
    let note = match (came_whole, from) {
        (false, _) => "",
        (true, Some(_)) => " (it came whole: others in the room needed it)",
        (true, None) => " (it came whole)",
    };
    format!("{}: already there, identical{note}", named(name, from))
}

fn changed_while_compared(name: &str, from: Option<&str>) -> String {
    format!(
        "{}: the file here changed while it was compared; {NOTHING_SAVED}.",
        named(name, from)
    )
}

fn stopped(name: &str, folder: bool) -> String {
    match folder {
        false => format!("The peer stopped sending {name}; {NOTHING_SAVED}."),
        true => format!("The peer stopped sending folder {name}; what arrived of it was removed."),
    }
}

fn incomplete_untouched(name: &str) -> String {
    format!(
        "Transfer of {name} incomplete: nothing arrived, and the file of that name here is \
         untouched."
    )
}

fn folder_incomplete(name: &str, why: &str, saved: u64, files: u64, kept: bool) -> String {
    format!(
        "Folder {name} incomplete: {why} ({saved} of {files} files); {}.",
        resume(kept)
    )
}

fn sender_left(name: &str, kept: bool) -> String {
    format!(
        "Transfer of {name} incomplete: its sender left the room; {}.",
        resume(kept)
    )
}

fn skipped_file(path: &str) -> String {
    format!("Skipped {path}: its path is unsafe or names another file of the folder.")
}

fn folder_refused(name: &str, why: Refusal<'_>) -> String {
    format!(
        "Refused folder {name}: {}; what arrived of it was removed.",
        refusal(why)
    )
}

fn folder_missing(name: &str, failed: u64) -> String {
    let them = if failed == 1 { "file" } else { "files" };
    format!("Folder {name} incomplete: {failed} {them} did not arrive; {RESUMES}.")
}

fn folder_saved(
    path: &std::path::Path,
    saved: u64,
    size: u64,
    summary: Option<&Summary>,
) -> String {
    let (path, saved, size) = (path.display(), files(saved), bytes(size));
    match summary {
        Some(summary) => format!("Folder saved to {path} ({saved}, {size}, {summary})"),
        None => format!("Folder saved to {path} ({saved}, {size})"),
    }
}

fn left_out(name: &str, left: u64, size: u64, announced: u64) -> String {
    let them = if left == 1 { "it" } else { "them" };
    format!(
        "Folder {name} came without {} of the {announced} announced ({}): the sender left \
         {them} out.",
        files(left),
        bytes(size)
    )
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::files::download::DownloadError;
    use crate::files::receive::ReceiveError;
    use crate::files::space::{NoRoom, Owed, Space};

    const FILE: Offered<'static> = Offered {
        name: "notes.pdf",
        size: 1536,
        files: None,
        from: None,
    };
    const FOLDER: Offered<'static> = Offered {
        name: "photos",
        size: 3 << 20,
        files: Some(3),
        from: Some("ann"),
    };

    fn no_room() -> NoRoom {
        let disk = Space {
            free: 100,
            inodes: None,
            block: 1,
        };
        let needed = Owed {
            bytes: 2000,
            files: 0,
        };
        disk.check(needed, Owed::default(), Path::new("dl"))
            .expect_err("it does not fit")
    }

    #[test]
    fn an_offer_that_waits_says_what_is_here_of_it_and_how_to_answer() {
        let ask = |offered, here| {
            line(ReceiveEvent::Asked {
                offered,
                peer: "bob",
                transfer: 4,
                here,
            })
        };
        assert_eq!(
            ask(FILE, Here::Nothing),
            "bob offers notes.pdf (1.5 KiB): /accept 4 or /decline 4"
        );
        assert_eq!(
            ask(FILE, Here::Kept(1024)),
            "bob offers notes.pdf (1.5 KiB, would resume: 1.0 KiB of 1.5 KiB kept): \
             /accept 4 or /decline 4"
        );
        assert_eq!(
            ask(FILE, Here::There),
            "bob offers notes.pdf (1.5 KiB, a file of this name and size is there already: \
             if identical, nothing travels): /accept 4 or /decline 4"
        );
        // In a room, the member it is from offers it.
        assert_eq!(
            ask(FOLDER, Here::Nothing),
            "ann offers folder photos (3 files, 3.0 MiB): /accept 4 or /decline 4"
        );
    }

    #[test]
    fn an_offer_taken_refused_or_not_saved_is_named_with_its_size_and_sender() {
        assert_eq!(
            line(ReceiveEvent::Arriving(FILE)),
            "Incoming file notes.pdf (1.5 KiB)..."
        );
        assert_eq!(
            line(ReceiveEvent::Arriving(FOLDER)),
            "Incoming folder photos (3 files, 3.0 MiB) from ann..."
        );
        assert_eq!(
            line(ReceiveEvent::Checking(FILE)),
            "Checking notes.pdf (1.5 KiB) against the file of that name here..."
        );
        let why = no_room();
        assert_eq!(
            line(ReceiveEvent::Declined {
                offered: FILE,
                why: Refusal::NoRoom(&why),
            }),
            "Declined notes.pdf (1.5 KiB): not enough free space: it needs 2.0 KiB and dl has \
             only 100 B free."
        );
        assert_eq!(
            line(ReceiveEvent::Declined {
                offered: FOLDER,
                why: Refusal::TooManyFiles { limit: 2 },
            }),
            "Declined folder photos (3 files, 3.0 MiB) from ann: it has more than the 2 files \
             a folder may have."
        );
        assert_eq!(
            line(ReceiveEvent::DiffersNoRoom {
                name: "a.bin",
                size: 5,
                why: &why,
            }),
            "Declined a.bin (5 B), which differs from the file of that name here: not enough \
             free space: it needs 2.0 KiB and dl has only 100 B free."
        );
        let why = DownloadError::NoFreeName("a.bin".into());
        let cannot = |what| line(ReceiveEvent::CannotSave { what, why: &why });
        assert_eq!(
            cannot(Unsaved::Offer(FILE)),
            "Could not save file notes.pdf (1.5 KiB): too many files named like a.bin"
        );
        assert_eq!(
            cannot(Unsaved::Offer(FOLDER)),
            "Could not save folder photos (3 files, 3.0 MiB) from ann: too many files named \
             like a.bin"
        );
        assert_eq!(
            cannot(Unsaved::File("photos/a.bin")),
            "Could not save file photos/a.bin: too many files named like a.bin"
        );
        assert_eq!(
            cannot(Unsaved::Folder("photos")),
            "Could not save folder photos: too many files named like a.bin"
        );
    }

    #[test]
    fn a_file_the_same_as_the_one_here_says_whether_it_came_whole_and_why() {
        let same = |from, came_whole| {
            line(ReceiveEvent::AlreadyThere {
                name: "a.bin",
                from,
                came_whole,
            })
        };
        assert_eq!(same(None, false), "a.bin: already there, identical");
        assert_eq!(
            same(None, true),
            "a.bin: already there, identical (it came whole)"
        );
        assert_eq!(
            same(Some("ann"), true),
            "a.bin from ann: already there, identical (it came whole: others in the room \
             needed it)"
        );
        assert_eq!(
            line(ReceiveEvent::ChangedWhileCompared {
                name: "a.bin",
                from: Some("ann"),
            }),
            "a.bin from ann: the file here changed while it was compared; nothing was saved."
        );
    }

    #[test]
    fn what_was_cut_says_whether_what_arrived_is_kept() {
        let why = ReceiveError::Incomplete {
            received: 10,
            expected: 2048,
        };
        let name = "a.bin";
        assert_eq!(
            line(ReceiveEvent::Incomplete { name, why: &why }),
            "Transfer of a.bin incomplete: received 10 B of 2.0 KiB; nothing was saved."
        );
        assert_eq!(
            line(ReceiveEvent::IncompleteKept { name, why: &why }),
            "Transfer of a.bin incomplete: received 10 B of 2.0 KiB; what arrived is kept, so \
             sending it again resumes."
        );
        assert_eq!(
            line(ReceiveEvent::FolderIncomplete {
                name: "photos",
                why: &why,
                saved: 1,
                files: 3,
                kept: true,
            }),
            "Folder photos incomplete: received 10 B of 2.0 KiB (1 of 3 files); what arrived \
             is kept, so sending it again resumes."
        );
        assert_eq!(
            line(ReceiveEvent::FolderSenderLeft {
                name: "photos",
                saved: 0,
                files: 3,
                kept: false,
            }),
            "Folder photos incomplete: its sender left the room (0 of 3 files); nothing was \
             saved."
        );
        assert_eq!(
            line(ReceiveEvent::Stopped {
                name,
                folder: false
            }),
            "The peer stopped sending a.bin; nothing was saved."
        );
        assert_eq!(
            line(ReceiveEvent::Stopped {
                name: "photos",
                folder: true,
            }),
            "The peer stopped sending folder photos; what arrived of it was removed."
        );
    }

    #[test]
    fn a_folder_saved_counts_its_files_and_what_its_sender_left_out() {
        let saved = |summary| {
            line(ReceiveEvent::FolderSaved {
                path: Path::new("dl/photos"),
                files: 1,
                bytes: 12,
                summary,
            })
        };
        assert_eq!(saved(None), "Folder saved to dl/photos (1 file, 12 B)");
        let summary = Summary {
            direction: crate::session::progress::Direction::Receive,
            kept: 0,
            moved: 12,
            elapsed: std::time::Duration::from_secs(1),
            rate: None,
        };
        assert_eq!(
            saved(Some(&summary)),
            "Folder saved to dl/photos (1 file, 12 B, 1.0s)"
        );
        let left_out = |files| {
            line(ReceiveEvent::LeftOut {
                name: "dir",
                files,
                bytes: 12,
                announced: 3,
            })
        };
        assert_eq!(
            left_out(1),
            "Folder dir came without 1 file of the 3 announced (12 B): the sender left it out."
        );
        assert_eq!(
            left_out(2),
            "Folder dir came without 2 files of the 3 announced (12 B): the sender left them \
             out."
        );
        let missing = |failed| {
            line(ReceiveEvent::FolderMissing {
                name: "dir",
                failed,
            })
        };
        assert_eq!(
            missing(1),
            "Folder dir incomplete: 1 file did not arrive; what arrived is kept, so sending it \
             again resumes."
        );
        assert!(missing(2).starts_with("Folder dir incomplete: 2 files did not arrive;"));
        assert_eq!(
            line(ReceiveEvent::FolderRefused {
                name: "dir",
                why: Refusal::TooManyFolders {
                    allowed: 4,
                    files: 1,
                },
            }),
            "Refused folder dir: it makes more folders than the 4 a folder of 1 file may hold; \
             what arrived of it was removed."
        );
    }
}
