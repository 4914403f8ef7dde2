//! The download folder as a peer and the user see it: names a peer cannot
//! make hidden, nothing left behind by a killed chat, a file size limit that
//! is a save failure rather than death, cheap numbering, OS errors named once.

use crate::common::{
    Chat, TestDir, dir_entries, file_header, listening_chat_with_raw_peer, wait_for_open_file_in,
};
use std::fs;

#[test]
fn names_a_peer_sends_are_never_saved_hidden() {
    let dir = TestDir::new("downloads_hidden");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let cases = [
        (". .bashrc", "bashrc"),
        ("\u{a0}. .ssh", "ssh"),
        (" .  .envrc", "envrc"),
        (". ..", "unnamed"),
        (". . .git", "git"),
        ("\u{3000}.\u{2003}.profile", "profile"),
    ];
    for (sent, saved) in cases {
        let mut wire = file_header(sent, 2);
        wire.extend_from_slice(b"ok");
        peer.write_bytes(&wire);
        chat.expect_saved(&format!("received_files/{saved}"));
    }
    let entries = dir_entries(&dir.join("received_files"));
    assert!(
        entries.iter().all(|name| !name.starts_with('.')),
        "{entries:?}"
    );
    assert_eq!(entries.len(), cases.len(), "{entries:?}");
}

#[test]
fn a_chat_killed_mid_transfer_leaves_nothing_in_the_folder() {
    let dir = TestDir::new("downloads_killed");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let mut wire = file_header("big.bin", 1 << 20);
    wire.extend(vec![7u8; 512 * 1024]);
    peer.write_bytes(&wire);
    chat.expect_exact("[System] Incoming file big.bin (1.0 MiB)...");
    let folder = dir.join("received_files");
    wait_for_open_file_in(chat.pid(), &folder);

    let pid = rustix::process::Pid::from_raw(chat.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    // Dropping reaps the process, so its files are closed.
    drop(chat);
    assert_eq!(dir_entries(&folder), Vec::<String>::new());
}

#[test]
fn a_file_size_limit_is_a_save_failure_and_the_chat_goes_on() {
    let dir = TestDir::new("downloads_ulimit");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    // `ulimit -f 64`, set on the running chat.
    let limit = rustix::process::Rlimit {
        current: Some(64 * 1024),
        maximum: Some(64 * 1024),
    };
    let pid = rustix::process::Pid::from_raw(chat.pid() as i32);
    rustix::process::prlimit(pid, rustix::process::Resource::Fsize, limit).unwrap();

    let size = 200 * 1024;
    let mut wire = file_header("big.bin", size);
    wire.extend(vec![1u8; size]);
    wire.extend_from_slice(b"[mallory] still there?\n");
    peer.write_bytes(&wire);
    let failure = chat.expect_prefix("[System] Could not save file big.bin: ");
    assert!(failure.contains("File too large"), "{failure}");
    chat.next_line_is("[mallory] still there?");

    // Still running, and a small file is still saved.
    let mut wire = file_header("small.txt", 5);
    wire.extend_from_slice(b"hello");
    peer.write_bytes(&wire);
    chat.expect_saved("received_files/small.txt");
    assert_eq!(dir_entries(&dir.join("received_files")), ["small.txt"]);
    chat.assert_no_panic();
}

#[test]
fn thousands_of_files_with_one_name_are_all_kept() {
    let dir = TestDir::new("downloads_many");
    let (mut chat, mut peer) = listening_chat_with_raw_peer(dir.path(), &[]);
    let files = 2000;
    let mut wire = Vec::new();
    for i in 0..files {
        wire.extend(file_header("x", 4));
        wire.extend(format!("{i:04}").into_bytes());
    }
    peer.write_bytes(&wire);
    chat.expect_saved("received_files/x");
    for i in 1..files {
        chat.expect_saved(&format!("received_files/x ({i})"));
    }
    let folder = dir.join("received_files");
    assert_eq!(dir_entries(&folder).len(), files);
    assert_eq!(fs::read(folder.join("x")).unwrap(), b"0000");
    for i in 1..files {
        let content = fs::read(folder.join(format!("x ({i})"))).unwrap();
        assert_eq!(content, format!("{i:04}").as_bytes());
    }
}

#[test]
fn an_unwritable_download_folder_names_the_os_error_once() {
    let dir = TestDir::new("downloads_os_error");
    // Nobody, root included, can create files in sysfs.
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--download-dir",
        "/sys/chat-test-os-error",
    ];
    let mut chat = Chat::spawn("alice", dir.path(), &args);
    let code = chat.wait_exit();
    chat.assert_failed_cleanly(code, "/sys/chat-test-os-error");
    let stderr = chat.stderr_text();
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}
