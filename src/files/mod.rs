//! Files on this machine: the download folder with its safe names and the
//! room on its disk, what is kept of cut transfers, folders to send, and
//! streaming file contents out to and in from a connection.
//!
//! Both directions copy in bounded chunks, so memory stays flat whatever
//! the size of the file.

pub mod download;
pub mod kept;
pub mod receive;
pub mod send;
pub mod size;
pub mod space;
pub mod tree;

/// Size of the copy buffer, in both directions, where the kernel cannot
/// move the bytes itself. Reads of this size from the socket bypass its
/// (smaller) read buffer.
const CHUNK: usize = 256 * 1024;

/// A fresh, empty scratch folder for one unit test of this layer.
#[cfg(test)]
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
