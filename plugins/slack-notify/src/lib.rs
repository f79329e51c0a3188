//! slack-notify: on `ticket-created`, when the ticket's priority is `urgent`, posts
//! `Urgent ticket <id>: <subject>` to the Slack incoming webhook whose URL is the secret
//! setting `webhook_url`. The plugin never sees the URL: it sends to the placeholder
//! `{{secret.webhook_url}}` and the host substitutes it on the way out.
//!
//! Summaries: `posted`, `skipped: not urgent`, `failed: <status>`.

use airlock_sdk::http::{self, Request};
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, Ticket};

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
        let response = Request::post(&http::secret("webhook_url"))
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
    }
}
