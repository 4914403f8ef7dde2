//! Command line surface: help and version, usage errors, and failures at startup that
//! must be reported as one clean `error:` line with exit code 1.

use crate::common::{self, Chat, TestDir, closed_port};
use std::fs;
use std::net::TcpListener;

/// Runs `chat ARGS...` with stdin closed and returns it, after it exited, with its code.
fn run(dir: &TestDir, args: &[&str]) -> (Chat, i32) {
    let mut chat = Chat::spawn("chat", dir.path(), args);
    chat.close_stdin();
    let code = chat.wait_exit();
    (chat, code)
}

#[test]
fn help_and_version_exit_zero() {
    let dir = TestDir::new("cli_help");
    let (mut chat, code) = run(&dir, &["--help"]);
    assert_eq!(code, 0, "{}", chat.report());
    let help = chat.stdout_lines().join("\n");
    assert!(
        help.contains("listen") && help.contains("connect"),
        "{help}"
    );
    // Output goes to a pipe, so no colours.
    assert!(!help.contains('\x1b'), "{help:?}");

    let (mut chat, code) = run(&dir, &["--version"]);
    assert_eq!(code, 0, "{}", chat.report());
    let version = chat.stdout_lines().join("\n");
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");

    let (mut chat, code) = run(&dir, &["listen", "--help"]);
    assert_eq!(code, 0, "{}", chat.report());
    let help = chat.stdout_lines().join("\n");
    for option in ["--host", "--port", "--name", "--download-dir"] {
        assert!(help.contains(option), "listen help lacks {option}:\n{help}");
    }

    let (mut chat, code) = run(&dir, &["connect", "--help"]);
    assert_eq!(code, 0, "{}", chat.report());
    let help = chat.stdout_lines().join("\n");
    for option in ["--name", "--download-dir"] {
        assert!(
            help.contains(option),
            "connect help lacks {option}:\n{help}"
        );
    }
}

#[test]
fn usage_errors_exit_two() {
    let dir = TestDir::new("cli_usage");
    let bad: &[&[&str]] = &[
        &[],
        &["bogus"],
        &["listen", "--port", "notanumber"],
        &["listen", "--port", "70000"],
        &["listen", "--frobnicate"],
        &["connect"],
        &["connect", "127.0.0.1", "abc"],
        &["connect", "127.0.0.1", "--wait", "never"],
        &["connect", "127.0.0.1", "5050", "extra"],
    ];
    for args in bad {
        let (mut chat, code) = run(&dir, args);
        if code != 2 {
            chat.fail(&format!("{args:?}: expected exit code 2, got {code}"));
        }
        if chat.stderr_text().trim().is_empty() {
            chat.fail(&format!("{args:?}: no explanation on stderr"));
        }
        chat.assert_no_panic();
    }
}

#[test]
fn connection_refused_names_the_address() {
    let dir = TestDir::new("cli_refused");
    let port = closed_port();
    let port = port.to_string();
    let (mut chat, code) = run(&dir, &["connect", "127.0.0.1", &port, "--wait", "1"]);
    chat.assert_failed_cleanly(code, &format!("127.0.0.1:{port}"));
}

#[test]
fn port_in_use_names_the_address() {
    let dir = TestDir::new("cli_port_in_use");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (mut chat, code) = run(&dir, &["listen", "--host", "127.0.0.1", "--port", &port]);
    chat.assert_failed_cleanly(code, &format!("127.0.0.1:{port}"));
    assert!(
        !chat.stdout_lines().iter().any(|l| l.contains("Listening")),
        "{}",
        chat.report()
    );
}

/// Starts `chat listen` with `--download-dir DOWNLOADS` and checks it fails
/// cleanly, naming the folder, before it ever listens.
fn assert_download_dir_refused(dir: &TestDir, downloads: &str) {
    let args = [
        "listen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--download-dir",
        downloads,
    ];
    let (mut chat, code) = run(dir, &args);
    chat.assert_failed_cleanly(code, downloads);
    assert!(
        !chat.stdout_lines().iter().any(|l| l.contains("Listening")),
        "{}",
        chat.report()
    );
}

#[test]
fn download_dir_that_is_a_file_fails_before_listening() {
    let dir = TestDir::new("cli_download_file");
    fs::write(dir.join("blocker"), b"not a folder").unwrap();
    assert_download_dir_refused(&dir, "blocker");
    assert_eq!(fs::read(dir.join("blocker")).unwrap(), b"not a folder");
}

#[test]
fn unknown_host_names_the_host() {
    let dir = TestDir::new("cli_unknown_host");
    // A DNS label may be at most 63 bytes, so the resolver refuses this name
    // locally, without asking any name server.
    let host = format!("{}.invalid", "x".repeat(70));
    let (mut chat, code) = run(&dir, &["connect", &host, "5050"]);
    chat.assert_failed_cleanly(code, &host);
}

#[test]
fn unwritable_download_dir_fails_before_listening() {
    let dir = TestDir::new("cli_download_unwritable");
    // Nobody, root included, can create files in sysfs.
    let target = "/sys/chat-test-downloads";
    assert_download_dir_refused(&dir, target);
    assert!(!std::path::Path::new(target).exists());
}

#[test]
fn completions_are_printed_for_each_shell() {
    let dir = TestDir::new("cli_completions");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef chat"),
        ("fish", "complete -c chat"),
    ] {
        let (mut chat, code) = run(&dir, &["completions", shell]);
        assert_eq!(code, 0, "{}", chat.report());
        let script = chat.stdout_lines().join("\n");
        assert!(
            script.contains(marker),
            "{shell}: no {marker:?} in\n{script}"
        );
        assert!(script.contains("listen") && script.contains("connect"));
    }
    let (mut chat, code) = run(&dir, &["completions", "cmd"]);
    assert_eq!(code, 2, "{}", chat.report());
}

#[test]
fn completions_into_a_pipe_nobody_reads_end_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(["completions", "bash"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}

/// The lines of the example session in `chat SUB --help`, as a terminal shows them
/// (after the time), without the command that starts it.
fn example_lines(dir: &TestDir, sub: &str) -> Vec<String> {
    let (mut chat, code) = run(dir, &[sub, "--help"]);
    assert_eq!(code, 0, "{}", chat.report());
    chat.stdout_lines()
        .iter()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| {
            let (time, rest) = l.split_at_checked("HH:MM ".len())?;
            let time = time.as_bytes();
            let digits = [0, 1, 3, 4].iter().all(|&i| time[i].is_ascii_digit());
            (digits && time[2] == b':' && time[5] == b' ').then(|| rest.to_string())
        })
        .collect()
}

/// `line` as pipe mode prints it: without the time and rate that end the final line of
/// a transfer on a terminal, with every `ADDRESS:PORT` as `ADDR`, since the example
/// ran elsewhere, and the safety code as `CODE`, since it differs every time.
fn as_in_pipe_mode(line: &str) -> String {
    let mut line = line.to_string();
    if line.ends_with("/s)")
        && let Some(at) = line.rfind(" at ")
    {
        let head = &line[..at];
        line = match (head.rfind(", "), head.rfind(" (")) {
            (Some(comma), Some(paren)) if comma > paren => format!("{})", &head[..comma]),
            (_, Some(paren)) => head[..paren].to_string(),
            _ => line,
        };
    }
    line.split(' ')
        .map(|word| {
            let is_addr = word.contains(':')
                && word
                    .trim_end_matches(':')
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == ':');
            let is_code = word.len() == 7
                && word
                    .char_indices()
                    .all(|(i, c)| if i == 3 { c == '-' } else { c.is_ascii_digit() });
            if is_addr {
                "ADDR"
            } else if is_code {
                "CODE"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn each_subcommand_help_shows_an_example_session() {
    let dir = TestDir::new("cli_examples");
    for (sub, line) in [
        ("listen", "$ chat listen --port 5050 --name I049"),
        ("connect", "$ chat connect 192.168.1.20 5050 --name I056"),
    ] {
        let (mut chat, code) = run(&dir, &[sub, "--help"]);
        assert_eq!(code, 0, "{}", chat.report());
        let help = chat.stdout_lines().join("\n");
        assert!(help.contains("Example session"), "{help}");
        assert!(help.contains(line), "{help}");
    }
}

/// Plays the example sessions of the help in pipe mode and compares line by line: each
/// line the program prints is in the example, in the same order, and the example adds
/// only the time, the rate, and the user's own messages, which a terminal shows.
#[test]
fn the_example_sessions_are_what_the_program_prints() {
    let dir = TestDir::new("cli_example_run");
    let listener_dir = dir.subdir("listener");
    let connector_dir = dir.subdir("connector");
    // The examples are of people who used chat before: their identities
    // are made already.
    for folder in [&listener_dir, &connector_dir] {
        chat::identity::Me::load(&common::home_of(folder)).unwrap();
    }
    fs::write(listener_dir.join("lecture notes.pdf"), vec![b'%'; 48213]).unwrap();
    let (mut listener, port) =
        Chat::listen_encrypted("listener", &listener_dir, &["--name", "I049"]);
    let mut connector = Chat::connect_encrypted(
        "connector",
        &connector_dir,
        "127.0.0.1",
        port,
        &["--name", "I056"],
    );
    connector.send_line("Hi! I'm Daksh.");
    listener.expect_exact("[I056] Hi! I'm Daksh.");
    listener.send_line("Hello! Sending you the notes.");
    listener.send_line("/send \"lecture notes.pdf\"");
    connector.expect_prefix("[System] File saved to ");
    listener.send_line("/quit");
    assert_eq!(listener.wait_exit(), 0, "{}", listener.report());
    // The peer leaving ends the connecting chat by itself.
    assert_eq!(connector.wait_exit(), 0, "{}", connector.report());

    for (sub, chat, own) in [
        ("listen", &listener, "[I049] "),
        ("connect", &connector, "[I056] "),
    ] {
        let example = example_lines(&dir, sub);
        let printed: Vec<String> = chat
            .stdout_lines()
            .iter()
            .map(|l| as_in_pipe_mode(l))
            .collect();
        // The test listens on loopback only, where no address to give the
        // peer is printed (a wildcard listener prints one line per address).
        let shown: Vec<String> = example
            .iter()
            .filter(|l| !l.starts_with(own))
            .filter(|l| !l.starts_with("[System] Your peer can connect to "))
            .map(|l| as_in_pipe_mode(l))
            .collect();
        assert_eq!(
            shown, printed,
            "`chat {sub} --help` shows (left) other lines than the program prints (right)"
        );
        assert!(
            example.iter().any(|l| l.starts_with(own)),
            "`chat {sub} --help` shows no own message"
        );
    }
}
