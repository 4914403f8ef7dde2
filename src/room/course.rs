//! The course a member's file or folder must keep as it goes through the
//! room: the rules a receiver holds its sender to (PROTOCOL.md 3.5, 4 and
//! 5), checked by the room before it passes anything on. The room passes
//! a sender's messages to members who check them in turn: one it let
//! through that breaks a rule would end their connections, the host's own
//! user's among them, and with it the room.

use thiserror::Error;

use crate::files::size;

/// What a transfer is, with what its sender announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    File { size: u64 },
    Folder { files: u64, bytes: u64 },
}

/// Where one transfer stands, from its sender's side.
#[derive(Debug)]
pub struct Course {
    name: String,
    announced: Announced,
    /// The room told the sender to go (a plain sender's file goes at once).
    going: bool,
    /// The sender was told to go with this many bytes held by everyone,
    /// and has not said yet where its chunks begin.
    begin_at: Option<u64>,
    /// Bytes of a file passed on, counted from where it (re)started.
    sent: u64,
    /// Files of a folder offered so far, and their sizes added up.
    entries: u64,
    entry_bytes: u64,
    ended: bool,
}

/// A rule a sender broke; the text says it for everyone in the room
/// (`liar was dropped from the room: it sent ...`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Breach {
    #[error("it sent {0} before it was accepted")]
    SentEarly(String),
    #[error("it ended {0} before it was accepted")]
    EndedEarly(String),
    #[error("it sent files of folder {0} before it was accepted")]
    FolderEarly(String),
    #[error("it sent files of folder {0} after its end")]
    FolderOver(String),
    #[error("it sent bytes of folder {0} as if it were a file")]
    NotAFile(String),
    #[error("it sent a file of {0} as if it were a folder")]
    NotAFolder(String),
    #[error("it said where {0} begins without being asked")]
    UnaskedBegin(String),
    #[error("it began {name} at byte {offset}, neither 0 nor where it was asked")]
    WrongBegin { name: String, offset: u64 },
    #[error("it sent {0} without saying where it begins")]
    NoBegin(String),
    #[error("it sent more of {name} than the {} it announced", size::bytes(*size))]
    TooLong { name: String, size: u64 },
    #[error("it ended {name} after {} of its {}", size::bytes(*sent), size::bytes(*size))]
    TooShort { name: String, sent: u64, size: u64 },
    #[error(
        "it sent more of folder {name} than the {} and {} it announced",
        size::files(*files),
        size::bytes(*bytes)
    )]
    FolderTooBig {
        name: String,
        files: u64,
        bytes: u64,
    },
    #[error("it ended folder {0} with files of it still on their way")]
    FolderUnfinished(String),
}

impl Course {
    /// A transfer just offered: it waits for the room's answer.
    pub fn offered(name: &str, announced: Announced) -> Self {
        Self {
            name: name.to_string(),
            announced,
            going: false,
            begin_at: None,
            sent: 0,
            entries: 0,
            entry_bytes: 0,
            ended: false,
        }
    }

    /// A plain sender's file: nobody is asked, it goes at once.
    pub fn going(name: &str, size: u64) -> Self {
        let mut course = Self::offered(name, Announced::File { size });
        course.going = true;
        course
    }

    pub fn is_going(&self) -> bool {
        self.going
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The room tells the sender to go, everyone holding the first
    /// `offset` bytes of a file: above 0, the sender says next where its
    /// chunks begin.
    pub fn go(&mut self, offset: u64) {
        self.going = true;
        if offset > 0 && matches!(self.announced, Announced::File { .. }) {
            self.begin_at = Some(offset);
        }
    }

    /// The sender says its chunks begin at `offset`: 0, or where it was
    /// asked to, and only when asked.
    pub fn begin(&mut self, offset: u64) -> Result<(), Breach> {
        let Announced::File { size } = self.announced else {
            return Err(Breach::NotAFile(self.name.clone()));
        };
        let Some(asked) = self.begin_at.filter(|_| self.going) else {
            return Err(Breach::UnaskedBegin(self.name.clone()));
        };
        if offset != 0 && offset != asked {
            return Err(Breach::WrongBegin {
                name: self.name.clone(),
                offset,
            });
        }
        self.begin_at = None;
        self.sent = offset.min(size);
        Ok(())
    }

    /// `len` bytes of a file: once it goes, from where it begins, never
    /// past its size.
    pub fn chunk(&mut self, len: u64) -> Result<(), Breach> {
        let Announced::File { size } = self.announced else {
            return Err(Breach::NotAFile(self.name.clone()));
        };
        if !self.going {
            return Err(Breach::SentEarly(self.name.clone()));
        }
        if self.begin_at.is_some() {
            return Err(Breach::NoBegin(self.name.clone()));
        }
        if self.ended || size - self.sent < len {
            return Err(Breach::TooLong {
                name: self.name.clone(),
                size,
            });
        }
        self.sent += len;
        Ok(())
    }

    /// A file inside the folder, of `size` bytes: once the folder goes,
    /// before its end, within what it announced.
    pub fn entry(&mut self, size: u64) -> Result<(), Breach> {
        let Announced::Folder { files, bytes } = self.announced else {
            return Err(Breach::NotAFolder(self.name.clone()));
        };
        self.inside()?;
        self.entries += 1;
        self.entry_bytes = self.entry_bytes.saturating_add(size);
        if self.entries > files || self.entry_bytes > bytes {
            return Err(Breach::FolderTooBig {
                name: self.name.clone(),
                files,
                bytes,
            });
        }
        Ok(())
    }

    /// A folder inside the folder: once it goes, before its end.
    pub fn subfolder(&self) -> Result<(), Breach> {
        if matches!(self.announced, Announced::File { .. }) {
            return Err(Breach::NotAFolder(self.name.clone()));
        }
        self.inside()
    }

    fn inside(&self) -> Result<(), Breach> {
        if !self.going {
            return Err(Breach::FolderEarly(self.name.clone()));
        }
        if self.ended {
            return Err(Breach::FolderOver(self.name.clone()));
        }
        Ok(())
    }

    /// The sender's end: a file once all of it went, a folder once none of
    /// its files is still on its way (`unfinished`).
    pub fn end(&mut self, unfinished: bool) -> Result<(), Breach> {
        if !self.going {
            return Err(Breach::EndedEarly(self.name.clone()));
        }
        match self.announced {
            Announced::File { .. } if self.begin_at.is_some() => {
                return Err(Breach::NoBegin(self.name.clone()));
            }
            Announced::File { size } if self.sent != size => {
                return Err(Breach::TooShort {
                    name: self.name.clone(),
                    sent: self.sent,
                    size,
                });
            }
            Announced::Folder { .. } if unfinished => {
                return Err(Breach::FolderUnfinished(self.name.clone()));
            }
            _ => {}
        }
        self.ended = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(size: u64) -> Course {
        Course::offered("f.bin", Announced::File { size })
    }

    fn folder(files: u64, bytes: u64) -> Course {
        Course::offered("pics", Announced::Folder { files, bytes })
    }

    #[test]
    fn a_file_goes_once_accepted_and_ends_whole() {
        let mut course = file(10);
        assert_eq!(course.chunk(1), Err(Breach::SentEarly("f.bin".into())));
        assert_eq!(course.end(false), Err(Breach::EndedEarly("f.bin".into())));
        course.go(0);
        assert_eq!(course.begin(0), Err(Breach::UnaskedBegin("f.bin".into())));
        course.chunk(4).unwrap();
        assert_eq!(
            course.end(false).unwrap_err().to_string(),
            "it ended f.bin after 4 B of its 10 B"
        );
        assert_eq!(
            course.chunk(7).unwrap_err().to_string(),
            "it sent more of f.bin than the 10 B it announced"
        );
        course.chunk(6).unwrap();
        course.end(false).unwrap();
        assert!(course.is_ended());
    }

    #[test]
    fn a_resumed_file_begins_where_it_was_asked_or_at_0() {
        let mut course = file(200_000);
        course.go(65_536);
        assert_eq!(course.chunk(1), Err(Breach::NoBegin("f.bin".into())));
        assert_eq!(course.end(false), Err(Breach::NoBegin("f.bin".into())));
        assert_eq!(
            course.begin(65_537).unwrap_err().to_string(),
            "it began f.bin at byte 65537, neither 0 nor where it was asked"
        );
        course.begin(65_536).unwrap();
        assert_eq!(
            course.begin(65_536),
            Err(Breach::UnaskedBegin("f.bin".into()))
        );
        course.chunk(200_000 - 65_536).unwrap();
        course.end(false).unwrap();

        let mut whole = file(10);
        whole.go(5);
        whole.begin(0).unwrap();
        whole.chunk(10).unwrap();
        whole.end(false).unwrap();
    }

    #[test]
    fn a_file_held_whole_already_ends_at_once() {
        let mut course = file(10);
        course.go(10);
        course.begin(10).unwrap();
        course.end(false).unwrap();
    }

    #[test]
    fn a_folder_takes_what_it_announced_and_ends_once_its_files_did() {
        let mut course = folder(2, 10);
        assert_eq!(course.entry(1), Err(Breach::FolderEarly("pics".into())));
        assert_eq!(course.subfolder(), Err(Breach::FolderEarly("pics".into())));
        course.go(0);
        assert_eq!(course.chunk(1), Err(Breach::NotAFile("pics".into())));
        assert_eq!(course.begin(0), Err(Breach::NotAFile("pics".into())));
        course.subfolder().unwrap();
        course.entry(4).unwrap();
        course.entry(6).unwrap();
        assert_eq!(
            course.end(true).unwrap_err().to_string(),
            "it ended folder pics with files of it still on their way"
        );
        course.end(false).unwrap();
        assert_eq!(course.entry(0), Err(Breach::FolderOver("pics".into())));
        assert_eq!(course.subfolder(), Err(Breach::FolderOver("pics".into())));
    }

    #[test]
    fn a_folder_gets_no_more_than_it_announced() {
        let mut empty = folder(0, 0);
        empty.go(0);
        assert_eq!(
            empty.entry(5).unwrap_err().to_string(),
            "it sent more of folder pics than the 0 files and 0 B it announced"
        );
        let mut small = folder(5, 5);
        small.go(0);
        small.entry(5).unwrap();
        assert!(matches!(small.entry(1), Err(Breach::FolderTooBig { .. })));
        let mut few = folder(1, 100);
        few.go(0);
        few.entry(0).unwrap();
        assert!(matches!(few.entry(0), Err(Breach::FolderTooBig { .. })));
        // Sizes that would wrap around do not.
        let mut huge = folder(3, u64::MAX - 1);
        huge.go(0);
        huge.entry(u64::MAX - 1).unwrap();
        assert!(huge.entry(u64::MAX).is_err());
    }

    #[test]
    fn files_and_folders_are_not_taken_for_one_another() {
        let mut course = file(10);
        course.go(0);
        assert_eq!(course.entry(1), Err(Breach::NotAFolder("f.bin".into())));
        assert_eq!(course.subfolder(), Err(Breach::NotAFolder("f.bin".into())));
    }

    /// What a sender may say about one transfer.
    #[derive(Debug, Clone)]
    enum Step {
        Go(u64),
        Begin(u64),
        Chunk(u64),
        Entry(u64),
        Subfolder,
        End(bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..40u64).prop_map(Step::Go),
            (0..40u64).prop_map(Step::Begin),
            (0..40u64).prop_map(Step::Chunk),
            (0..40u64).prop_map(Step::Entry),
            Just(Step::Subfolder),
            any::<bool>().prop_map(Step::End),
        ]
    }

    proptest! {
        /// However a sender orders its messages, what the course lets
        /// through is what a receiver takes: no byte before the start or
        /// past the size, an end only whole, a folder's files within what
        /// it announced and never after its end.
        #[test]
        fn what_passes_keeps_to_the_rules(
            folder_kind in any::<bool>(),
            size in 0..60u64,
            files in 0..4u64,
            steps in prop::collection::vec(step(), 0..30),
        ) {
            let announced = if folder_kind {
                Announced::Folder { files, bytes: size }
            } else {
                Announced::File { size }
            };
            let mut course = Course::offered("x", announced);
            let (mut told_go, mut begun_at, mut bytes, mut entries, mut entry_bytes) =
                (None, None, 0u64, 0u64, 0u64);
            let mut ended = false;
            for step in steps {
                match step {
                    Step::Go(offset) => {
                        if told_go.is_none() {
                            course.go(offset);
                            told_go = Some(offset);
                        }
                    }
                    Step::Begin(offset) => {
                        if course.begin(offset).is_ok() {
                            let asked = told_go.unwrap_or_default();
                            prop_assert!(!folder_kind && begun_at.is_none() && asked > 0);
                            prop_assert!(offset == 0 || offset == asked);
                            begun_at = Some(offset);
                            bytes = offset.min(size);
                        }
                    }
                    Step::Chunk(len) => {
                        if course.chunk(len).is_ok() {
                            prop_assert!(!folder_kind && !ended && told_go.is_some());
                            prop_assert!(told_go == Some(0) || begun_at.is_some());
                            bytes += len;
                            prop_assert!(bytes <= size);
                        }
                    }
                    Step::Entry(len) => {
                        if course.entry(len).is_ok() {
                            prop_assert!(folder_kind && !ended && told_go.is_some());
                            entries += 1;
                            entry_bytes += len;
                            prop_assert!(entries <= files && entry_bytes <= size);
                        }
                    }
                    Step::Subfolder => {
                        if course.subfolder().is_ok() {
                            prop_assert!(folder_kind && !ended && told_go.is_some());
                        }
                    }
                    Step::End(unfinished) => {
                        if !ended && course.end(unfinished).is_ok() {
                            prop_assert!(told_go.is_some());
                            if folder_kind {
                                prop_assert!(!unfinished);
                            } else {
                                prop_assert_eq!(bytes, size);
                            }
                            ended = true;
                        }
                    }
                }
            }
        }
    }
}
