//! Small disks for a test: a download folder that is a file system of its
//! own (a tmpfs, or ext4 on a loop device), mounted in a mount namespace
//! of one chat's alone, which goes with it. Making one needs root and
//! `unshare` (and `mkfs.ext4` with loop devices for ext4); where it cannot
//! be made, a test is skipped with a line saying why, except under CI
//! (the `CI` environment variable set), where it fails instead of passing
//! silently.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a chat is run so that `downloads` is a small disk of its own.
pub struct SmallDisk {
    wrapper: Vec<String>,
    downloads: PathBuf,
}

impl SmallDisk {
    /// A tmpfs of `mib` MiB at `downloads`, or `None` (said on stderr)
    /// where it cannot be made.
    pub fn tmpfs(downloads: &Path, mib: u64) -> Option<SmallDisk> {
        let mount = format!("mount -t tmpfs -o size={mib}m chat-test");
        SmallDisk::made(downloads, &mount)
    }

    /// A tmpfs of `mib` MiB with room for `inodes` files and folders at
    /// `downloads`, or `None` (said on stderr) where it cannot be made.
    pub fn tmpfs_with_inodes(downloads: &Path, mib: u64, inodes: u64) -> Option<SmallDisk> {
        let mount = format!("mount -t tmpfs -o size={mib}m,nr_inodes={inodes} chat-test");
        SmallDisk::made(downloads, &mount)
    }

    /// An ext4 file system of `mib` MiB with about `inodes` inodes (a
    /// block of 1 KiB, as `mkfs` gives so small a disk) at `downloads`, its
    /// image kept in `image`; or `None` (said on stderr) where it cannot be
    /// made.
    pub fn ext4(downloads: &Path, image: &Path, mib: u64, inodes: u64) -> Option<SmallDisk> {
        let file = fs::File::create(image).unwrap();
        file.set_len(mib << 20).unwrap();
        let made = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-N", &inodes.to_string()])
            .arg(image)
            .output();
        if !matches!(&made, Ok(out) if out.status.success()) {
            return skipped(&format!("cannot make an ext4 file system: {made:?}"));
        }
        let mount = format!("mount -o loop '{}'", image.display());
        SmallDisk::made(downloads, &mount)
    }

    /// Checks that `mount` (given the mount point last) works in a mount
    /// namespace of its own before any chat is run through it.
    fn made(downloads: &Path, mount: &str) -> Option<SmallDisk> {
        fs::create_dir_all(downloads).unwrap();
        let probe = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!("{mount} \"$0\""))
            .arg(downloads)
            .output();
        if !matches!(&probe, Ok(out) if out.status.success()) {
            return skipped(&format!("cannot mount a small file system here: {probe:?}"));
        }
        let script = format!("{mount} '{}' && exec \"$0\" \"$@\"", downloads.display());
        let wrapper = [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ];
        Some(SmallDisk {
            wrapper: wrapper.map(str::to_string).to_vec(),
            downloads: downloads.to_path_buf(),
        })
    }

    /// The command a chat is run through.
    pub fn wrapper(&self) -> Vec<&str> {
        self.wrapper.iter().map(String::as_str).collect()
    }

    /// The download folder as the chat with process id `pid` sees it: on
    /// its own disk.
    pub fn seen_by(&self, pid: u32) -> PathBuf {
        Path::new(&format!("/proc/{pid}/root")).join(
            self.downloads
                .strip_prefix("/")
                .expect("the test folder is an absolute path"),
        )
    }

    /// Blocks and inodes in use on the disk, as the chat with process id
    /// `pid` sees it: (bytes, inodes).
    pub fn used(&self, pid: u32) -> (u64, u64) {
        let disk = rustix::fs::statvfs(self.seen_by(pid)).unwrap();
        (
            (disk.f_blocks - disk.f_bfree) * disk.f_frsize,
            disk.f_files - disk.f_ffree,
        )
    }

    /// Bytes free on the disk, as the chat with process id `pid` sees it.
    pub fn free(&self, pid: u32) -> u64 {
        let disk = rustix::fs::statvfs(self.seen_by(pid)).unwrap();
        disk.f_bavail * disk.f_frsize
    }
}

/// Says why a test is skipped; under CI, fails it.
fn skipped(why: &str) -> Option<SmallDisk> {
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    None
}
