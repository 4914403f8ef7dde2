//! What the wire under a conversation can do: the engine and its front ends
//! ask this instead of matching on which wire it is.

/// What a conversation's wire can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Nobody on the network in between can read or change what is sent.
    pub encrypted: bool,
    /// Messages are typed values, not lines: a message may have several
    /// lines, goes between the chunks of a file instead of after it, and a
    /// room answers `/who` and private messages with messages of their own.
    pub typed: bool,
    /// Files can be accepted, declined, cancelled midway and resumed.
    pub answers: bool,
    /// Folders can be sent.
    pub folders: bool,
    /// What the people compare to know nobody is in between.
    pub safety: Safety,
}

/// What the people compare to know nobody is in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Safety {
    /// Nothing: the conversation is not encrypted.
    Nothing,
    /// This code, the same on both screens; `verified` when both sides
    /// proved they hold the same `--code`.
    Code { code: String, verified: bool },
    /// A room's host has a code with each member, shown as it joins.
    EachMember,
}

impl Capabilities {
    /// The original wire (`--plain`): lines and files, nothing more.
    pub fn plain() -> Self {
        Self {
            encrypted: false,
            typed: false,
            answers: false,
            folders: false,
            safety: Safety::Nothing,
        }
    }

    /// The code its people compare, if there is one.
    pub fn code(&self) -> Option<&str> {
        match &self.safety {
            Safety::Code { code, .. } => Some(code),
            Safety::Nothing | Safety::EachMember => None,
        }
    }

    /// The encrypted wire, with what its people compare.
    pub fn encrypted(safety: Safety) -> Self {
        Self {
            encrypted: true,
            typed: true,
            answers: true,
            folders: true,
            safety,
        }
    }
}
