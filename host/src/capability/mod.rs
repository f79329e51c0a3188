//! The capabilities plugins can call, each a [`Capability`](crate::broker::Capability)
//! behind the broker: helpdesk data, log, settings, outbound HTTP and kv storage.
//!
//! Each capability's module owns everything about it: its calls ([`CallName`]s, with
//! what kind of access each is), its `Capability` impls, and the WIT `Host` impl of its
//! interface, on [`CallState`], what the runtime's store state lends a call. The
//! generated bindings are in [`wit`]; [`link`] links the whole world, and the
//! interfaces a plugin may import are read from the WIT world itself
//! ([`wit::allowed_imports`]).
//!
//! Adding a capability touches its WIT interface, one module here (calls, capability,
//! `Host` impl, listed in [`calls`]), its service handle in [`Services::new`], the store trait
//! it uses, the manifest section that declares it, the SDK and tests.

pub mod convert;
pub mod helpdesk;
pub mod http;
pub mod kv;
pub mod log;
pub mod settings;
pub mod wit;

use crate::broker::{CallError, Exhausted, Invocation};
use crate::egress::Egress;
use crate::model::Kind;
use crate::store::{HelpdeskStore, Store};
use log::LogBook;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

/// What kind of access a call is, for the monitor's counters and alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// Reads helpdesk records.
    Read,
    /// Writes helpdesk records.
    Write,
    /// Sends an outbound request.
    Egress,
    /// Anything else (logging, settings).
    Other,
}

/// One audited call name, its kind, and the kind of record its resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallName {
    /// The name in audit records, e.g. `helpdesk.get-ticket`.
    pub name: &'static str,
    /// What kind of access it is.
    pub kind: CallKind,
    /// The kind of record the call touches, for helpdesk calls.
    pub record: Option<Kind>,
}

impl CallName {
    const fn new(name: &'static str, kind: CallKind, record: Option<Kind>) -> CallName {
        CallName { name, kind, record }
    }
}

/// Every call of every capability.
pub fn calls() -> impl Iterator<Item = &'static CallName> {
    [
        helpdesk::CALLS,
        http::CALLS,
        kv::CALLS,
        log::CALLS,
        settings::CALLS,
    ]
    .into_iter()
    .flatten()
}

/// The kind of an audited call name, if it is a capability's call.
///
/// ```
/// use airlock_host::capability::{CallKind, call_kind};
/// assert_eq!(call_kind("helpdesk.get-ticket"), Some(CallKind::Read));
/// assert_eq!(call_kind("helpdesk.add-tags"), Some(CallKind::Write));
/// assert_eq!(call_kind("http.request"), Some(CallKind::Egress));
/// assert_eq!(call_kind("handler.handle"), None);
/// ```
pub fn call_kind(name: &str) -> Option<CallKind> {
    call(name).map(|c| c.kind)
}

/// The call of this audited name, if it is a capability's call.
pub fn call(name: &str) -> Option<&'static CallName> {
    calls().find(|c| c.name == name)
}

/// The services capabilities perform calls with, shared by every invocation. The broker
/// never sees them: each capability holds the one handle it needs.
#[derive(Clone)]
pub struct Services {
    /// Helpdesk records, for the helpdesk capability.
    pub helpdesk: Arc<dyn HelpdeskStore>,
    /// Outbound HTTP, for the http capability (and the master key kv's data keys are
    /// wrapped with).
    pub egress: Arc<Egress>,
    /// Plugin key-value storage, for the kv capability.
    pub kv: Arc<kv::KvService>,
}

impl Services {
    /// Each capability's handle, from the stores and the egress service.
    pub fn new(store: Arc<dyn Store>, kv: Arc<kv::KvService>, egress: Arc<Egress>) -> Services {
        Services {
            helpdesk: store,
            egress,
            kv,
        }
    }
}

/// Why a host call did not return a value: the call's own refusal, which the plugin
/// receives as the WIT `error`, or a spent budget, which ends the invocation.
#[derive(Debug)]
pub enum CallFailure {
    /// The broker refused or failed the call.
    Refused(CallError),
    /// The invocation spent a budget: the runtime traps.
    Ended(Exhausted),
}

impl CallState<'_> {
    /// A call's result as the plugin gets it: once a budget is spent, every refusal
    /// ends the invocation instead.
    fn settle<T>(&self, result: Result<T, CallError>) -> Result<T, CallFailure> {
        result.map_err(|e| match self.invocation.exhausted() {
            Some(budget) => CallFailure::Ended(Exhausted(budget)),
            None => CallFailure::Refused(e),
        })
    }

    /// For calls without an error in their signature: a spent budget ends the
    /// invocation.
    fn check_budget(&self) -> wasmtime::Result<()> {
        match self.invocation.exhausted() {
            Some(budget) => Err(wasmtime::Error::new(Exhausted(budget))),
            None => Ok(()),
        }
    }
}

impl wit::types::Host for CallState<'_> {
    fn convert_error(&mut self, failure: CallFailure) -> wasmtime::Result<wit::types::Error> {
        match failure {
            CallFailure::Refused(e) => Ok(convert::error(e)),
            CallFailure::Ended(exhausted) => Err(wasmtime::Error::new(exhausted)),
        }
    }
}

/// What a call borrows from the runtime's per-invocation state: every capability's WIT
/// `Host` impl is on this type.
pub struct CallState<'a> {
    /// The broker's invocation the call belongs to.
    pub invocation: &'a mut Invocation,
    /// The capabilities' services.
    pub services: &'a Services,
    /// What the invocation logged.
    pub log: &'a mut LogBook,
}

/// The runtime's store state: lends each call its [`CallState`].
pub trait LendCallState: 'static {
    /// The parts one call needs.
    fn call_state(&mut self) -> CallState<'_>;
}

/// Links every interface of Airlock's world to the capabilities' hosts.
pub fn link<T: LendCallState>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::Plugin::add_to_linker::<T, Calls>(linker, |state| state.call_state())
}

/// The [`HasData`] that names [`CallState`] for the generated bindings.
struct Calls;

impl HasData for Calls {
    type Data<'a> = CallState<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_name_is_declared_once() {
        let mut names: Vec<&str> = calls().map(|c| c.name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a call name is declared twice");
        assert!(calls().all(|c| c.kind == CallKind::Other
            || c.kind == CallKind::Egress
            || c.record.is_some()));
    }

    #[test]
    fn the_allowed_imports_are_exactly_the_world_s_interfaces() {
        let mut imports = wit::allowed_imports().to_vec();
        imports.sort();
        assert_eq!(
            imports,
            [
                "airlock:plugin/helpdesk@0.1.0",
                "airlock:plugin/http@0.1.0",
                "airlock:plugin/kv@0.1.0",
                "airlock:plugin/log@0.1.0",
                "airlock:plugin/settings@0.1.0",
                "airlock:plugin/types@0.1.0",
            ]
        );
        assert_eq!(wit::required_exports(), ["airlock:plugin/handler@0.1.0"]);
    }
}
