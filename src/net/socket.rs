//! The byte stream under a connection, whatever carries it: a TCP socket
//! to a peer, or one end of a socket pair inside this program. A
//! conversation asks it only what [`Socket`] offers; what the kernel knows
//! of delivery it tells where it can (TCP), and says so where it cannot.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// What a connection needs of the stream it runs over. The descriptor is
/// part of it: the zero-copy moves (`sendfile`, `splice`) and the wait
/// for the peer's acknowledgement work on it.
pub trait Socket: Read + Write + AsFd + Send + Sync {
    /// Another handle on the same stream, for another owner.
    fn another_handle(&self) -> io::Result<Box<dyn Socket>>;

    /// Ends reading, writing, or both, for every handle on the stream: a
    /// read or write blocked on it returns.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// Makes a read that waits longer than `limit` fail.
    fn set_read_timeout(&self, limit: Option<Duration>) -> io::Result<()>;

    /// Makes a write that cannot go on for `limit` fail.
    fn set_write_timeout(&self, limit: Option<Duration>) -> io::Result<()>;

    /// Where our sending stands, as the kernel sees it; `None` where it
    /// cannot tell.
    fn sending(&self) -> Option<Sending>;

    /// Makes a write wait while more than `limit` bytes wait in the kernel
    /// to be sent, where the kernel offers such a limit; nothing otherwise.
    fn limit_unsent(&self, limit: u32) -> io::Result<()> {
        let _ = limit;
        Ok(())
    }
}

impl Socket for TcpStream {
    fn another_handle(&self) -> io::Result<Box<dyn Socket>> {
        Ok(Box::new(self.try_clone()?))
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }

    fn set_read_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, limit)
    }

    fn set_write_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, limit)
    }

    fn sending(&self) -> Option<Sending> {
        tcp_info(self).map(|info| Sending::from(&info))
    }

    fn limit_unsent(&self, limit: u32) -> io::Result<()> {
        let value = limit as libc::c_int;
        // SAFETY: the descriptor is open while `self` is borrowed, and the
        // pointer and length describe `value`.
        let done = unsafe {
            libc::setsockopt(
                self.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NOTSENT_LOWAT,
                (&raw const value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if done == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// A socket pair's end: the kernel does not say how much of what was
/// written the other end has read, so [`Socket::sending`] is `None`.
impl Socket for UnixStream {
    fn another_handle(&self) -> io::Result<Box<dyn Socket>> {
        Ok(Box::new(self.try_clone()?))
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }

    fn set_read_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, limit)
    }

    fn set_write_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, limit)
    }

    fn sending(&self) -> Option<Sending> {
        None
    }
}

/// Our side of the connection's progress, from one reading of the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sending {
    /// Bytes the peer has acknowledged, since the connection began.
    pub acknowledged: u64,
    /// Whether bytes of ours wait to be sent or acknowledged.
    pub waiting: bool,
    /// Whether what we write can still reach the peer: the connection is
    /// established, or the peer only said it will send no more.
    pub open: bool,
}

impl From<&libc::tcp_info> for Sending {
    fn from(info: &libc::tcp_info) -> Self {
        // Linux's TCP states (include/net/tcp_states.h).
        const ESTABLISHED: u8 = 1;
        const CLOSE_WAIT: u8 = 8;
        Self {
            acknowledged: info.tcpi_bytes_acked,
            waiting: info.tcpi_unacked > 0 || info.tcpi_notsent_bytes > 0,
            open: matches!(info.tcpi_state, ESTABLISHED | CLOSE_WAIT),
        }
    }
}

/// The kernel's own account of a TCP connection; `None` for anything else.
pub(super) fn tcp_info(socket: impl AsFd) -> Option<libc::tcp_info> {
    // SAFETY: `tcp_info` is plain data, for which all zeroes is a valid
    // value, and the kernel writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the descriptor is open while `socket` is borrowed, and the
    // pointer and length describe `info`.
    let done = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    (done == 0).then_some(info)
}
