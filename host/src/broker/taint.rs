//! What an invocation has read: its taint, the information-flow side of every rule about
//! data leaving (egress) or being stored (labels).

use super::Seen;
use crate::catalog::Sensitivity;
use crate::model::Flow;
use airlock_redact::Redactor;
use std::collections::{BTreeMap, BTreeSet};

/// The most distinct flows one invocation tracks. Past it the taint is
/// [overflowed](Taint::overflowed): egress is refused for the rest of the invocation,
/// and what it writes is labelled `restricted`.
pub const MAX_FLOWS: usize = 1_024;

/// The path of the flow that stands for "more than the host tracked".
pub const OVERFLOW_PATH: &str = "*";

/// What an invocation has read so far.
///
/// * every non-public field whose value (not just a mask) the broker handed out, with
///   its catalog class (a path the catalog does not know counts as `restricted`);
/// * every detector class found in a value the broker left unmasked because of a
///   `reveal` grant: approved only by that class, unless the field's whole value was
///   the span, when the field approves it too;
/// * every flow carried by a stored field the plugin read ([`Taint::inherit`]).
///
/// Once a plugin has read a flow that a destination's `send` approves neither by path
/// nor by class, no later request of the invocation may go there
/// ([`Taint::unapproved`]), whatever the request looks like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taint {
    /// Each flow, with the stored field it was inherited through (if it was).
    flows: BTreeMap<Flow, Option<String>>,
    overflowed: bool,
}

impl Taint {
    /// Adds a field whose value was handed out.
    pub fn read_field(&mut self, path: &str) {
        let class = Sensitivity::of_path(path);
        if class != Sensitivity::Public {
            self.add(
                Flow {
                    path: path.to_string(),
                    class: class.to_string(),
                    by_path: true,
                },
                None,
            );
        }
    }

    /// Adds the classes in `reveal` that `redactor` finds in a handed-out value.
    pub fn read_revealed(&mut self, redactor: &Redactor, reveal: &BTreeSet<String>, seen: &Seen) {
        if reveal.is_empty() {
            return;
        }
        for span in redactor.find_spans(&seen.value) {
            let class = span.class.to_string();
            if reveal.contains(&class) {
                let whole = span.start == 0 && span.end == seen.value.len();
                self.add(
                    Flow {
                        path: seen.path.clone(),
                        class,
                        by_path: whole,
                    },
                    None,
                );
            }
        }
    }

    /// Adds the flows a stored field carried, read through `via`.
    pub fn inherit(&mut self, via: &str, flow: Flow) {
        self.add(flow, Some(via.to_string()));
    }

    /// Marks the taint incomplete: the invocation read more than the host tracks.
    pub fn overflow(&mut self) {
        self.overflowed = true;
    }

    /// True when the invocation read more than the host tracks.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// True when the invocation has read nothing that taints.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && !self.overflowed
    }

    fn add(&mut self, flow: Flow, via: Option<String>) {
        if self.flows.contains_key(&flow) {
            return;
        }
        if self.flows.len() >= MAX_FLOWS {
            self.overflowed = true;
            return;
        }
        self.flows.insert(flow, via);
    }

    /// The flows to attach to a field this invocation writes: everything it has read,
    /// plus a `restricted` flow that no path approves when the taint overflowed.
    pub fn labels(&self) -> Vec<Flow> {
        let mut labels: Vec<Flow> = self.flows.keys().cloned().collect();
        if self.overflowed {
            labels.push(Flow {
                path: OVERFLOW_PATH.into(),
                class: Sensitivity::Restricted.to_string(),
                by_path: false,
            });
        }
        labels
    }

    /// The flows `send` does not approve, described for an error message (field paths
    /// and class names only): `requester.email`, `ticket.description (revealed email)`,
    /// `requester.email (through ticket.tags)`.
    pub fn unapproved(&self, send: &BTreeSet<String>) -> Vec<String> {
        let unapproved: BTreeSet<String> = self
            .flows
            .iter()
            .filter(|(f, _)| !(send.contains(&f.class) || f.by_path && send.contains(&f.path)))
            .map(|(f, via)| {
                let sensitivity = f.class.parse::<Sensitivity>().is_ok();
                let what = if f.path == OVERFLOW_PATH {
                    "more field values than the host tracks".to_string()
                } else if sensitivity {
                    f.path.clone()
                } else {
                    format!("{} (revealed {})", f.path, f.class)
                };
                match via {
                    Some(via) => format!("{what} (through {via})"),
                    None => what,
                }
            })
            .collect();
        unapproved.into_iter().collect()
    }
}

impl crate::egress::ReadFlows for Taint {
    fn overflowed(&self) -> bool {
        Taint::overflowed(self)
    }

    fn unapproved(&self, send: &BTreeSet<String>) -> Vec<String> {
        Taint::unapproved(self, send)
    }

    fn capacity(&self) -> String {
        format!(
            "{} field values or {MAX_FLOWS} distinct fields",
            super::MAX_SEEN_VALUES
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn seen(path: &str, value: &str) -> Seen {
        Seen {
            path: path.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_read_field_needs_its_path_or_class_in_send() {
        let mut t = Taint::default();
        t.read_field("ticket.subject");
        t.read_field("ticket.status"); // public: no taint
        assert_eq!(t.labels().len(), 1);
        assert!(t.unapproved(&send(&["ticket.subject"])).is_empty());
        assert!(t.unapproved(&send(&["internal"])).is_empty());
        assert_eq!(t.unapproved(&send(&["personal"])), ["ticket.subject"]);
        // An unknown path counts as restricted.
        let mut t = Taint::default();
        t.read_field("ticket.made_up");
        assert!(!t.unapproved(&send(&["internal", "personal"])).is_empty());
        assert!(t.unapproved(&send(&["restricted"])).is_empty());
    }

    #[test]
    fn a_revealed_value_counts_as_its_class() {
        let redactor = Redactor::default();
        let reveal = send(&["email"]);
        let mut t = Taint::default();
        t.read_field("ticket.description");
        t.read_revealed(
            &redactor,
            &reveal,
            &seen("ticket.description", "write to vera@bigcorp.example"),
        );
        // Approving the field is not enough: the email in it was read raw.
        let left = t.unapproved(&send(&["ticket.description"]));
        assert_eq!(left, ["ticket.description (revealed email)"]);
        assert!(
            t.unapproved(&send(&["ticket.description", "email"]))
                .is_empty()
        );
        // A field whose whole value is the email is approved by its path.
        let mut t = Taint::default();
        t.read_field("requester.email");
        t.read_revealed(
            &redactor,
            &reveal,
            &seen("requester.email", "vera@bigcorp.example"),
        );
        assert!(t.unapproved(&send(&["requester.email"])).is_empty());
        // Without a reveal grant, the (masked) value adds no class.
        let mut t = Taint::default();
        t.read_revealed(
            &redactor,
            &BTreeSet::new(),
            &seen("ticket.description", "vera@bigcorp.example"),
        );
        assert!(t.is_empty());
    }

    #[test]
    fn inherited_flows_name_the_field_they_came_through() {
        let mut writer = Taint::default();
        writer.read_field("requester.email");
        let mut reader = Taint::default();
        for flow in writer.labels() {
            reader.inherit("ticket.tags", flow);
        }
        assert_eq!(
            reader.unapproved(&send(&["ticket.tags"])),
            ["requester.email (through ticket.tags)"]
        );
        assert!(reader.unapproved(&send(&["personal"])).is_empty());
    }

    #[test]
    fn past_the_bound_the_taint_overflows_and_labels_say_so() {
        let mut t = Taint::default();
        for i in 0..=MAX_FLOWS {
            t.read_field(&format!("ticket.custom_fields.f{i}"));
        }
        assert!(t.overflowed());
        let labels = t.labels();
        assert_eq!(labels.len(), MAX_FLOWS + 1);
        let last = labels.last().unwrap();
        assert_eq!((last.path.as_str(), last.by_path), (OVERFLOW_PATH, false));
    }
}
