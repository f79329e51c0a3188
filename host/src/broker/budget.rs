//! What one invocation may make the host do, beyond the guest's own instructions: how
//! many host calls, how many bytes of audit, and until when.
//!
//! Every call counts against the budget before anything else happens, the ones the
//! broker refuses as invalid or denied included. Once a budget is spent, the call that
//! found it spent is refused with `limit`, no further call is recorded one by one, and
//! the runtime ends the invocation ([`Exhausted`] is the trap it raises). The refused
//! calls are then summed up in one record (call [`REFUSED_CALL`]).

use std::fmt;
use std::time::{Duration, Instant};

/// The most host calls one invocation may make.
pub const MAX_CALLS_PER_INVOCATION: u32 = 1_000;

/// The most audit text one invocation may write, in bytes ([`AuditEntry::text_bytes`]
/// summed over its records).
///
/// [`AuditEntry::text_bytes`]: crate::audit::AuditEntry::text_bytes
pub const MAX_AUDIT_BYTES_PER_INVOCATION: usize = 1 << 20;

/// The audited call of the one record that sums up the calls refused once a budget was
/// spent.
pub const REFUSED_CALL: &str = "invocation.calls-refused";

/// A budget an invocation can spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// [`MAX_CALLS_PER_INVOCATION`] host calls.
    Calls,
    /// [`MAX_AUDIT_BYTES_PER_INVOCATION`] bytes of audit text.
    AuditBytes,
    /// The invocation's deadline.
    Time,
}

impl Budget {
    /// The budget's name in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Calls => "calls",
            Budget::AuditBytes => "audit-bytes",
            Budget::Time => "deadline",
        }
    }

    /// The refusal's message: which budget, never what the calls asked for.
    pub fn message(self) -> String {
        match self {
            Budget::Calls => {
                format!("more than {MAX_CALLS_PER_INVOCATION} host calls in one invocation")
            }
            Budget::AuditBytes => format!(
                "the invocation's calls filled its {MAX_AUDIT_BYTES_PER_INVOCATION} bytes of audit"
            ),
            Budget::Time => "the invocation's deadline passed".to_string(),
        }
    }
}

/// The trap that ends an invocation whose budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted(pub Budget);

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message())
    }
}

impl std::error::Error for Exhausted {}

/// An invocation's budget: what it has spent so far, and what it was refused since.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    calls: u32,
    audit_bytes: usize,
    deadline: Option<Instant>,
    spent: Option<Budget>,
    refused: u64,
}

impl Ledger {
    /// Counts one call. `Err` when a budget is spent (this call is then refused).
    pub(super) fn charge_call(&mut self, now: Instant) -> Result<(), Budget> {
        if let Some(budget) = self.spent {
            self.refused += 1;
            return Err(budget);
        }
        self.calls += 1;
        let spent = if self.calls > MAX_CALLS_PER_INVOCATION {
            Some(Budget::Calls)
        } else if self.deadline.is_some_and(|d| now >= d) {
            Some(Budget::Time)
        } else {
            None
        };
        match spent {
            Some(budget) => {
                self.spend(budget);
                self.refused += 1;
                Err(budget)
            }
            None => Ok(()),
        }
    }

    /// Counts a record's audit text; past the cap, later calls are refused.
    pub(super) fn charge_audit(&mut self, bytes: usize) {
        self.audit_bytes = self.audit_bytes.saturating_add(bytes);
        if self.audit_bytes > MAX_AUDIT_BYTES_PER_INVOCATION {
            self.spend(Budget::AuditBytes);
        }
    }

    /// Marks a budget spent (the first one spent is the one reported).
    pub(super) fn spend(&mut self, budget: Budget) {
        self.spent.get_or_insert(budget);
    }

    pub(super) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// Time left before the deadline, if there is one.
    pub(super) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(now))
    }

    pub(super) fn spent(&self) -> Option<Budget> {
        self.spent
    }

    /// The calls refused once a budget was spent, and which budget; taken once.
    pub(super) fn take_refused(&mut self) -> Option<(u64, Budget)> {
        let budget = self.spent?;
        let refused = std::mem::take(&mut self.refused);
        (refused > 0).then_some((refused, budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_counts_and_a_spent_budget_refuses_every_later_call() {
        let mut ledger = Ledger::default();
        let now = Instant::now();
        for _ in 0..MAX_CALLS_PER_INVOCATION {
            ledger.charge_call(now).unwrap();
        }
        assert_eq!(ledger.charge_call(now), Err(Budget::Calls));
        assert_eq!(ledger.charge_call(now), Err(Budget::Calls));
        assert_eq!(ledger.take_refused(), Some((2, Budget::Calls)));
        assert_eq!(ledger.take_refused(), None, "taken once");
    }

    #[test]
    fn audit_bytes_and_the_deadline_are_budgets_too() {
        let mut ledger = Ledger::default();
        let now = Instant::now();
        ledger.charge_audit(MAX_AUDIT_BYTES_PER_INVOCATION + 1);
        assert_eq!(ledger.charge_call(now), Err(Budget::AuditBytes));

        let mut ledger = Ledger::default();
        ledger.set_deadline(now);
        assert_eq!(ledger.remaining(now), Some(Duration::ZERO));
        assert_eq!(ledger.charge_call(now), Err(Budget::Time));
    }
}
