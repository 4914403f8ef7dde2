//! Other programs the benches run: whether one is installed, and the
//! reference tools a transfer is measured against.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::ports::wait_listening;

pub fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `tar c | nc` into `nc -l | tar x` in `out`, timed from starting the
/// sender to the receiver's exit, when all is on disk. The receiver
/// listens on `listen`, the sender connects to `connect`: the same port,
/// or one that leads there.
pub fn tar_nc_send(folder: &Path, out: &Path, listen: u16, connect: u16) -> f64 {
    let mut receiver = Command::new("sh")
        .args(["-c", r#"nc -d -l 127.0.0.1 "$0" | tar xf - -C "$1""#])
        .arg(listen.to_string())
        .arg(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("cannot start nc -l | tar x");
    wait_listening(listen);
    let started = Instant::now();
    let mut sender = Command::new("sh")
        .args(["-c", r#"tar cf - -C "$1" "$2" | nc -N 127.0.0.1 "$0""#])
        .arg(connect.to_string())
        .arg(folder.parent().unwrap())
        .arg(folder.file_name().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot start tar c | nc");
    let receiver_status = receiver.wait().expect("receiver wait");
    let seconds = started.elapsed().as_secs_f64();
    let sender_status = sender.wait().expect("sender wait");
    assert!(
        receiver_status.success() && sender_status.success(),
        "tar | nc: sender {sender_status}, receiver {receiver_status}"
    );
    seconds
}

/// `nc` of `source` into `nc -l` writing `received`, timed as
/// [`tar_nc_send`].
pub fn nc_send(source: &Path, received: &Path, listen: u16, connect: u16) -> f64 {
    let mut receiver = Command::new("nc")
        .args(["-d", "-l", "127.0.0.1", &listen.to_string()])
        .stdin(Stdio::null())
        .stdout(File::create(received).unwrap())
        .spawn()
        .expect("cannot start nc -l");
    wait_listening(listen);
    let started = Instant::now();
    let mut sender = Command::new("nc")
        .args(["-N", "127.0.0.1", &connect.to_string()])
        .stdin(File::open(source).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot start nc");
    let receiver_status = receiver.wait().expect("receiver wait");
    let seconds = started.elapsed().as_secs_f64();
    let sender_status = sender.wait().expect("sender wait");
    assert!(
        receiver_status.success() && sender_status.success(),
        "nc: sender {sender_status}, receiver {receiver_status}"
    );
    seconds
}
