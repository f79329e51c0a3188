//! The capabilities plugins can call, each a [`Capability`](crate::broker::Capability)
//! behind the broker: helpdesk data, log and settings.

pub mod helpdesk;
pub mod log;
pub mod settings;
