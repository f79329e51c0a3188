//! The information-flow side of the egress rule: what an invocation has read
//! ([`Taint`]) decides where its requests may go, whatever the requests look like.

use crate::broker::{CallError, Taint};
use std::collections::BTreeSet;

/// Refused when the invocation read a flow that `send` approves neither by path nor by
/// class, or more than the host tracks.
pub(super) fn check_taint(
    taint: &Taint,
    send: &BTreeSet<String>,
    label: &str,
) -> Result<(), CallError> {
    if taint.overflowed() {
        return Err(CallError::Limit(format!(
            "this invocation read more than the host tracks ({} field values or {} distinct fields); no request may leave it",
            crate::broker::MAX_SEEN_VALUES,
            crate::broker::MAX_FLOWS
        )));
    }
    let unapproved = taint.unapproved(send);
    if unapproved.is_empty() {
        return Ok(());
    }
    Err(CallError::Denied(format!(
        "this invocation read {}, which {label} may not receive: its [[egress]] send does not name the field or its class",
        unapproved.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unapproved_flows_and_overflow_refuse() {
        let send: BTreeSet<String> = ["ticket.subject".to_string()].into();
        let mut t = Taint::default();
        t.read_field("ticket.subject");
        assert!(check_taint(&t, &send, "d").is_ok());
        t.read_field("requester.email");
        let e = check_taint(&t, &send, "https://d.example").unwrap_err();
        assert_eq!(e.code(), "denied");
        assert!(
            e.message()
                .contains("read requester.email, which https://d.example")
        );
        t.overflow();
        assert_eq!(check_taint(&t, &send, "d").unwrap_err().code(), "limit");
    }
}
