//! The Office 365 Management Activity API's plain vocabulary: the five content types and the
//! four clouds with their host names. Names and tables only, no behaviour: the client
//! (`o365-api`) and the emulator (`o365-emulator`) both speak it, and each keeps its own logic,
//! so the emulator stays an independent judge of the client.

mod cloud;
mod content_type;

pub use cloud::{Cloud, UnknownCloud};
pub use content_type::{ContentType, UnknownContentType};
