//! The process exit codes, by name.

/// How the program ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The chat ended normally: either side left.
    Success = 0,
    /// A runtime failure; the message is on stderr, or was on the screen
    /// just before (see [`Shown`]).
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code as u8)
    }
}

/// A failure the user has just read on the screen, at a terminal: the
/// program exits with [`ExitCode::Failure`] without saying it again.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Shown(#[from] pub anyhow::Error);
