//! Alerts raised by the activity monitor: their rules, what is stored, and how they are
//! queried. The rules themselves run in the host's monitor; these are the types the
//! store and the API share.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// First contact with a new destination.
    NewDestination,
    /// Too many denied calls in a short window.
    DeniedBurst,
    /// Reads per hour far above the installation's baseline.
    ReadSpike,
    /// A read of a restricted field.
    RestrictedRead,
    /// Far more distinct requesters read than usual.
    RequesterSpike,
    /// An admin killed an installation.
    PluginKilled,
    /// The access review is past due (`review_interval_days` since the last sign-off).
    ReviewOverdue,
    /// A vendor's last security review is older than `vendor_review_days`.
    VendorReviewOverdue,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 8] = [
        Rule::NewDestination,
        Rule::DeniedBurst,
        Rule::ReadSpike,
        Rule::RestrictedRead,
        Rule::RequesterSpike,
        Rule::PluginKilled,
        Rule::ReviewOverdue,
        Rule::VendorReviewOverdue,
    ];

    /// The rule's name, as stored and audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NewDestination => "new-destination",
            Rule::DeniedBurst => "denied-burst",
            Rule::ReadSpike => "read-spike",
            Rule::RestrictedRead => "restricted-read",
            Rule::RequesterSpike => "requester-spike",
            Rule::PluginKilled => "plugin-killed",
            Rule::ReviewOverdue => "review-overdue",
            Rule::VendorReviewOverdue => "vendor-review-overdue",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rule {
    type Err = String;

    /// Parses a rule's name.
    ///
    /// ```
    /// use airlock_core::alert::Rule;
    /// assert_eq!("read-spike".parse::<Rule>(), Ok(Rule::ReadSpike));
    /// assert!("no-such-rule".parse::<Rule>().is_err());
    /// ```
    fn from_str(name: &str) -> Result<Rule, String> {
        Rule::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown alert rule; the rules are {}", names.join(", "))
            })
    }
}

/// Where an alert's webhook delivery stands. Stored and shown as text: `none`,
/// `pending`, `delivered` or `failed: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Delivery {
    /// No webhook is configured.
    None,
    /// Queued for the webhook.
    Pending,
    /// The webhook accepted it.
    Delivered,
    /// Every attempt failed; the last problem (a status or a transport error, never an
    /// alert's content).
    Failed(String),
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::None => f.write_str("none"),
            Delivery::Pending => f.write_str("pending"),
            Delivery::Delivered => f.write_str("delivered"),
            Delivery::Failed(problem) => write!(f, "failed: {problem}"),
        }
    }
}

impl From<Delivery> for String {
    fn from(d: Delivery) -> String {
        d.to_string()
    }
}

impl From<String> for Delivery {
    /// Reads a stored delivery state. Text that is none of the known states is kept as a
    /// failure, so nothing stored is ever lost or misread as delivered.
    ///
    /// ```
    /// use airlock_core::alert::Delivery;
    /// assert_eq!(Delivery::from("delivered".to_string()), Delivery::Delivered);
    /// assert_eq!(Delivery::from("failed: HTTP 500".to_string()), Delivery::Failed("HTTP 500".into()));
    /// assert_eq!(Delivery::Failed("HTTP 500".into()).to_string(), "failed: HTTP 500");
    /// ```
    fn from(text: String) -> Delivery {
        match text.as_str() {
            "none" => Delivery::None,
            "pending" => Delivery::Pending,
            "delivered" => Delivery::Delivered,
            _ => Delivery::Failed(
                text.strip_prefix("failed: ")
                    .map(str::to_string)
                    .unwrap_or(text),
            ),
        }
    }
}

/// A stored alert. It names installations, rules, fields, ids and counts, never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Its id, increasing.
    pub id: u64,
    /// When it was raised (RFC 3339 UTC).
    pub time: String,
    /// The rule that raised it.
    pub rule: Rule,
    /// The installation.
    pub installation: String,
    /// Its plugin.
    pub plugin: String,
    /// What happened, in words.
    pub message: String,
    /// The numbers behind it (counts, thresholds, the field or destination).
    pub details: BTreeMap<String, String>,
    /// The audit record that triggered it.
    pub trigger_seq: u64,
    /// Webhook delivery.
    pub delivery: Delivery,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only this installation.
    pub installation: Option<String>,
    /// Only this rule.
    pub rule: Option<Rule>,
    /// Only alerts raised at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only alerts with a larger id.
    pub after_id: Option<u64>,
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<u32>,
}
