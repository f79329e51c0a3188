//! The information-flow side of the egress rule: what an invocation has read decides
//! where its requests may go, whatever the requests look like.

use super::EgressError;
use std::collections::BTreeSet;

/// What an invocation has read, as egress needs to know it (the broker's taint
/// implements it).
pub trait ReadFlows {
    /// True when the invocation read more than the host tracks: then nothing may leave.
    fn overflowed(&self) -> bool;
    /// The flows read that `send` approves neither by field path nor by class, named.
    fn unapproved(&self, send: &BTreeSet<String>) -> Vec<String>;
    /// What the host tracks at most, in words, for the refusal's message.
    fn capacity(&self) -> String;
}

/// Refused when the invocation read a flow that `send` approves neither by path nor by
/// class, or more than the host tracks.
pub(super) fn check_taint(
    taint: &dyn ReadFlows,
    send: &BTreeSet<String>,
    label: &str,
) -> Result<(), EgressError> {
    if taint.overflowed() {
        return Err(EgressError::Limit(format!(
            "this invocation read more than the host tracks ({}); no request may leave it",
            taint.capacity()
        )));
    }
    let unapproved = taint.unapproved(send);
    if unapproved.is_empty() {
        return Ok(());
    }
    Err(EgressError::Denied(format!(
        "this invocation read {}, which {label} may not receive: its [[egress]] send does not name the field or its class",
        unapproved.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flows by path only, as a broker would report them.
    #[derive(Default)]
    struct Read {
        paths: Vec<&'static str>,
        overflowed: bool,
    }

    impl ReadFlows for Read {
        fn overflowed(&self) -> bool {
            self.overflowed
        }
        fn unapproved(&self, send: &BTreeSet<String>) -> Vec<String> {
            let paths = self.paths.iter().filter(|p| !send.contains(**p));
            paths.map(|p| p.to_string()).collect()
        }
        fn capacity(&self) -> String {
            "2 fields".into()
        }
    }

    #[test]
    fn unapproved_flows_and_overflow_refuse() {
        let send: BTreeSet<String> = ["ticket.subject".to_string()].into();
        let mut t = Read {
            paths: vec!["ticket.subject"],
            ..Read::default()
        };
        assert!(check_taint(&t, &send, "d").is_ok());
        t.paths.push("requester.email");
        let e = check_taint(&t, &send, "https://d.example").unwrap_err();
        assert_eq!(e.code(), "denied");
        assert!(
            e.message()
                .contains("read requester.email, which https://d.example")
        );
        t.overflowed = true;
        let e = check_taint(&t, &send, "d").unwrap_err();
        assert_eq!(e.code(), "limit");
        assert!(e.message().contains("(2 fields)"), "{e}");
    }
}
