//! The folder that holds a user's identity and contacts: `CHAT_HOME` if
//! set, else `$XDG_DATA_HOME/chat`, else `~/.local/share/chat`.

use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable that names the folder outright (for tests, and
/// for keeping several identities).
pub const CHAT_HOME: &str = "CHAT_HOME";

/// Why there is no folder for the identity.
#[derive(Debug, thiserror::Error)]
#[error("no folder for this user's identity: HOME is not set (set CHAT_HOME to choose one)")]
pub struct NoHome;

/// The folder from this process's environment.
pub fn from_env() -> Result<PathBuf, NoHome> {
    resolve(|name| std::env::var_os(name))
}

/// The folder from the variables `var` gives. Relative paths in the XDG
/// variables are ignored, as the XDG specification says; `CHAT_HOME` is
/// taken as given.
pub fn resolve(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, NoHome> {
    let set = |name| {
        var(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = set(CHAT_HOME) {
        return Ok(home);
    }
    if let Some(data) = set("XDG_DATA_HOME").filter(|path| path.is_absolute()) {
        return Ok(data.join("chat"));
    }
    let home = set("HOME")
        .filter(|path| path.is_absolute())
        .ok_or(NoHome)?;
    Ok(home.join(".local/share/chat"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<PathBuf, NoHome> {
        resolve(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn chat_home_wins_then_xdg_then_home() {
        let all = [("CHAT_HOME", "/c"), ("XDG_DATA_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(with(&all).unwrap(), PathBuf::from("/c"));
        assert_eq!(with(&all[1..]).unwrap(), PathBuf::from("/x/chat"));
        assert_eq!(
            with(&all[2..]).unwrap(),
            PathBuf::from("/h/.local/share/chat")
        );
    }

    #[test]
    fn empty_or_relative_xdg_folders_are_ignored() {
        let vars = [("CHAT_HOME", ""), ("XDG_DATA_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(with(&vars).unwrap(), PathBuf::from("/h/.local/share/chat"));
        assert!(with(&[]).is_err());
        assert!(with(&[("HOME", "relative")]).is_err());
    }
}
