//! slack-notify: on `ticket-created`, when the ticket's priority is `urgent`, posts
//! `Urgent ticket <id>: <subject>` to the Slack incoming webhook whose path is the secret
//! setting `webhook_path`. The plugin never sees it: it posts to
//! `https://hooks.slack.com/services/{{secret.webhook_path}}` and the host substitutes
//! the path on the way out, after every check.
//!
//! Summaries: `posted`, `skipped: not urgent`, `failed: <status>`.

use airlock_sdk::http::{self, Request};
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, Ticket, settings};

/// Slack's webhook host (declared in plugin.toml `[[egress]]`); the `base_url` setting
/// may name another, which must be declared and approved too.
pub const BASE_URL: &str = "https://hooks.slack.com";

/// The webhook URL, its secret path left as a placeholder.
fn webhook_url(base: &str) -> String {
    format!(
        "{}/services/{}",
        base.trim_end_matches('/'),
        http::secret("webhook_path")
    )
}

/// The Slack message for a ticket.
fn message(ticket: &Ticket) -> Json {
    let subject = ticket.subject.as_deref().unwrap_or("(no subject)");
    Json::Object(vec![(
        "text".into(),
        Json::String(format!("Urgent ticket {}: {subject}", ticket.id)),
    )])
}

fn is_urgent(ticket: &Ticket) -> bool {
    ticket
        .priority
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("urgent"))
}

struct SlackNotify;

impl Plugin for SlackNotify {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::TicketCreated(ticket) = event else {
            return Ok(Outcome::new("skipped: not a new ticket"));
        };
        if !is_urgent(&ticket) {
            return Ok(Outcome::new("skipped: not urgent"));
        }
        let base = settings::get("base_url")?
            .and_then(|b| b.as_str().map(str::to_string))
            .unwrap_or_else(|| BASE_URL.to_string());
        let response = Request::post(&webhook_url(&base))
            .json(&message(&ticket))
            .send()?;
        Ok(Outcome::new(match response.is_success() {
            true => "posted".to_string(),
            false => format!("failed: {}", response.status),
        }))
    }
}

airlock_sdk::export_plugin!(SlackNotify);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_message_from_the_subject() {
        let mut t = Ticket::new("t-9");
        t.subject = Some("Printer \"on\" fire".into());
        assert_eq!(
            message(&t).to_string(),
            r#"{"text":"Urgent ticket t-9: Printer \"on\" fire"}"#
        );
        t.priority = Some("Urgent".into());
        assert!(is_urgent(&t));
        assert_eq!(
            webhook_url("https://hooks.slack.com/"),
            "https://hooks.slack.com/services/{{secret.webhook_path}}"
        );
    }
}
