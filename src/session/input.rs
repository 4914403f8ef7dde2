//! What the engine takes of a front end's input: lines in batches, each
//! holding a [`Ticket`] until the writer has sent it, so that input piped
//! faster than the peer takes it waits in the pipe, not in memory, while
//! the main loop itself never waits. (The terminal reads its console on a
//! thread of its own: `terminal::input`.)

/// Tickets for batches of piped input, a fixed number (the reader of a
/// conversation has its own for the answers it hands the writer). A
/// ticket is given back when dropped, by whoever holds it last; closed,
/// the tickets free a reader waiting for one.
pub use crate::permits::{Permit as Ticket, Permits as Tickets};

/// Longest line of input taken, newline excluded: a longer one could not
/// be sent anyway, so it is skipped as it streams in, never held whole.
pub const MAX_INPUT_LINE: usize = crate::wire::limits::MAX_LINE;
