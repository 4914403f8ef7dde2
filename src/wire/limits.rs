//! The protocol's limits: what a peer may send and what we take or refuse,
//! each named where PROTOCOL.md states it. (The rules for names people go
//! by are `wire::name`'s; our own tuning stays with the code it tunes.)

use std::time::Duration;

/// Longest line of the original wire, line ending excluded (PROTOCOL.md
/// 2.1, 2.3): longer ones are skipped, never held whole.
pub const MAX_LINE: usize = 64 * 1024;

/// Largest file a peer may announce, on either wire (PROTOCOL.md 2.2, 2.3;
/// 3.5, 4): anything bigger is taken as malformed rather than as a promise
/// to stream for days.
pub const MAX_FILE_SIZE: u64 = 1 << 44;

/// Deepest path inside a received folder, in components (PROTOCOL.md
/// 2.4): deeper trees are rare, and each level is a folder to make.
pub const MAX_DEPTH: usize = 64;

/// Longest greeting line read from a peer (PROTOCOL.md 3.1).
pub const MAX_GREETING: usize = 256;

/// How long a peer has for the whole handshake (PROTOCOL.md 3.1, 3.7): the
/// original program and `nc` say nothing until their user types, so
/// silence this long means the peer does not speak the encrypted protocol.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Longest code, in bytes once normalised (PROTOCOL.md 3.2).
pub const MAX_CODE: usize = 128;

/// Longest message body taken from the mailbox server, in bytes once
/// decoded (PROTOCOL.md 3.10): ours are a code exchange message and a
/// sealed list of addresses.
pub const MAX_MAILBOX_BODY: usize = 4096;

/// Most addresses a peer may give to be tried directly (PROTOCOL.md 3.10).
pub const MAX_HINTS: usize = 16;

/// Most data bytes one sealed record carries (PROTOCOL.md 3.3): a 64 KiB
/// piece of a file with the header of its message, or a room's longest
/// message. Pieces of exactly 64 KiB keep file reads aligned and let BLAKE3
/// hash at full width (a third faster than odd sizes).
pub const MAX_PLAINTEXT: usize = 64 * 1024 + 256;

/// Longest text of one message, in bytes (PROTOCOL.md 3.4): what a record
/// holds, less the type byte and room to spare.
pub const MAX_TEXT: usize = 64 * 1024 - 64;

/// Longest name in a message, in bytes (PROTOCOL.md 3.4).
pub const MAX_NAME: usize = 128;

/// Longest file or folder name in a message, in bytes (PROTOCOL.md 3.4).
pub const MAX_FILE_NAME: usize = 1024;

/// Longest reason or notice in a message, in bytes (PROTOCOL.md 3.4).
pub const MAX_REASON: usize = 1024;

/// Longest path inside a folder, in bytes (PROTOCOL.md 3.4).
pub const MAX_PATH: usize = 4096;

/// Longest address in a list of members, in bytes (PROTOCOL.md 3.4): an
/// IPv6 address with a scope and a port fits.
pub const MAX_ADDRESS: usize = 64;

/// Files a peer may send at once, its own and inside folders
/// (PROTOCOL.md 3.5, 4).
pub const MAX_INCOMING: usize = 64;

/// Folders a peer may send at once (PROTOCOL.md 3.5, 4).
pub const MAX_FOLDERS: usize = 16;

/// Most files a received folder may hold (PROTOCOL.md 3.5, 5): each is a
/// block of the disk and an inode, whatever its size, and a name to
/// remember until it ends.
pub const MAX_FOLDER_FILES: u64 = 1_000_000;

/// Folders a received folder may hold beyond one for each of its files
/// (PROTOCOL.md 3.5, 5). Nobody is asked about its folders (an offer names
/// its files and bytes), so they are held to what real trees have: seldom
/// more folders than files, and few empty ones.
pub const SPARE_FOLDERS: u64 = 1_000;

/// Wrong codes a listening side allows before it checks no more: each one
/// is a guess of the code (PROTOCOL.md 3.7, 4).
pub const WRONG_CODES: u32 = 3;

/// Least a peer must take of what waits for it within the stall timeout
/// to count as still reading (PROTOCOL.md 3.7; 3.8, 7).
pub const MIN_PROGRESS: u64 = 16 * 1024;

/// Most members a room may have besides its host (PROTOCOL.md 3.8, 1):
/// their list must fit one record.
pub const MAX_PEERS: u16 = 256;

/// Keepalive intervals of silence after which the other side of a room's
/// connection is gone (PROTOCOL.md 3.8, 6).
pub const SILENT_INTERVALS: u32 = 3;

/// Most bytes of messages that wait for one member of a room
/// (PROTOCOL.md 3.8, 7): one further behind is dropped.
pub const MAX_BACKLOG: usize = 4 << 20;

/// Connections in their handshake with a room at once, at most, and from
/// one address (PROTOCOL.md 3.8, 7): a flood of silent connections costs
/// no more than this, and one machine cannot keep everyone else out.
pub const MAX_KNOCKING: usize = 32;
pub const MAX_KNOCKING_FROM_ONE: usize = 8;

/// How long a connection may take to be let into a room, all told
/// (PROTOCOL.md 3.8, 7): the handshake and the name each have their own
/// limit, and one that trickles its name a byte at a time is cut here.
pub const KNOCK_LIMIT: Duration = Duration::from_secs(25);

/// How long a room's members have to answer an offer, or a file's end
/// (PROTOCOL.md 3.8, 8).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// How far behind the fastest taker of a room's file one may be, in bytes,
/// and for how long, before it is dropped from it (PROTOCOL.md 3.8, 8).
pub const MAX_LAG: u64 = 2 << 20;
pub const LAG_FOR: Duration = Duration::from_secs(5);

// A Said with the longest name and text fits one record: its type byte,
// name length, name and text (PROTOCOL.md 3.4).
const _: () = assert!(2 + MAX_NAME + MAX_TEXT <= MAX_PLAINTEXT);

// A full room's list of members, the host included, fits one Members
// message uncut: per member its seconds (4), two lengths, name and address.
const _: () = assert!((MAX_PEERS as usize + 1) * (6 + MAX_NAME + MAX_ADDRESS) <= MAX_TEXT);

// Names and addresses go with a length of one byte (PROTOCOL.md 3.4).
const _: () = assert!(MAX_NAME <= u8::MAX as usize);
const _: () = assert!(MAX_ADDRESS <= u8::MAX as usize);

// A name that passes the name rules is never cut on the wire: each of its
// characters is at most 4 bytes of UTF-8 (PROTOCOL.md 3.4, 3.6).
const _: () = assert!(crate::wire::name::MAX_CHARS * 4 <= MAX_NAME);
