//! The files a bench sends (random bytes, a folder of many small files)
//! and how a received copy is checked against them.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder of many small files: the size of each, and how many share a
/// subfolder.
pub const SMALL_FILE: usize = 4096;
pub const FILES_PER_FOLDER: usize = 100;

/// xorshift64*: fast, and incompressible enough for a transfer.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(0x9e37_79b9_7f4a_7c15 ^ seed)
    }

    /// Fills `block`, whose length is a multiple of 8.
    pub fn fill(&mut self, block: &mut [u8]) {
        for chunk in block.chunks_exact_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            chunk.copy_from_slice(&self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
    }
}

pub fn write_random(path: &Path, size: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut noise = Noise::new(0);
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        noise.fill(&mut block);
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    // On disk before the first round: left dirty, it would be written back
    // 30 s after it was written, in the middle of some tool's turn.
    out.into_inner().unwrap().sync_all().unwrap();
}

pub fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum is needed to check the copies");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `count` files of [`SMALL_FILE`] random bytes, [`FILES_PER_FOLDER`] to
/// each subfolder of `root`; each file differs, as real ones would.
pub fn write_many_files(root: &Path, count: usize) {
    fs::create_dir_all(root).unwrap();
    let mut noise = Noise::new(1);
    let mut block = vec![0u8; SMALL_FILE];
    for i in 0..count {
        let folder = root.join(format!("d{:03}", i / FILES_PER_FOLDER));
        if i % FILES_PER_FOLDER == 0 {
            fs::create_dir(&folder).unwrap();
        }
        noise.fill(&mut block);
        fs::write(folder.join(format!("f{:03}", i % FILES_PER_FOLDER)), &block).unwrap();
    }
}

/// An empty folder at `path`, whatever was there before, and nothing left
/// to write back: the disk catching up on an earlier round would slow this
/// one.
pub fn fresh_folder(path: &Path) {
    let _ = fs::remove_dir_all(path);
    fs::create_dir_all(path).unwrap();
    rustix::fs::sync();
}

/// Whether `copy` holds the same files as `original`, byte for byte; if
/// not, what differs.
pub fn same_tree(original: &Path, copy: &Path) -> Result<(), String> {
    let (want, got) = (files_under(original), files_under(copy));
    if want != got {
        let total = |files: &BTreeMap<PathBuf, u64>| files.values().sum::<u64>();
        let first = want
            .iter()
            .find(|(name, size)| got.get(*name) != Some(size))
            .or_else(|| got.iter().find(|(name, _)| !want.contains_key(*name)))
            .map_or_else(String::new, |(name, _)| name.display().to_string());
        return Err(format!(
            "{} files of {} bytes arrived, {} of {} were sent; first to differ: {first}",
            got.len(),
            total(&got),
            want.len(),
            total(&want)
        ));
    }
    match want
        .keys()
        .find(|name| !same_bytes(&original.join(name), &copy.join(name)))
    {
        Some(name) => Err(format!("{} arrived with other bytes", name.display())),
        None => Ok(()),
    }
}

/// Every file under `root`, by its path inside it, with its size.
fn files_under(root: &Path) -> BTreeMap<PathBuf, u64> {
    let mut files = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        // A folder that is missing holds nothing, which the caller reports.
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                folders.push(path);
            } else {
                let size = entry.metadata().unwrap().len();
                files.insert(path.strip_prefix(root).unwrap().to_path_buf(), size);
            }
        }
    }
    files
}

pub fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(mut a), Ok(mut b)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let size = a.metadata().map_or(0, |m| m.len());
    let chunk = size.clamp(1, 1 << 20) as usize;
    let (mut x, mut y) = (vec![0; chunk], vec![0; chunk]);
    loop {
        let n = a.read(&mut x).unwrap();
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}
