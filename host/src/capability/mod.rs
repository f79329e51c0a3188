//! The capabilities plugins can call, each a [`Capability`](crate::broker::Capability)
//! behind the broker: helpdesk data, log, settings and outbound HTTP.

pub mod helpdesk;
pub mod http;
pub mod log;
pub mod settings;
