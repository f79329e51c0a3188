//! crm-sync: on `ticket-created`, looks up the requester and sends `{"email", "ticket"}`
//! to the CRM's `/v1/contacts`, authenticated with the secret setting `crm_token` as a
//! bearer token. The destination's `send = ["requester.email"]` is what lets the email
//! leave; the plugin never sees the token.
//!
//! Summaries: `synced`, `skipped: <reason>`, `failed: <status>`.

use airlock_sdk::http::Request;
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, helpdesk, settings};

/// The CRM's default contacts endpoint (declared in plugin.toml `[[egress]]`); the
/// `endpoint` setting may name another, which must be declared and approved too.
pub const ENDPOINT: &str = "https://api.crm.example/v1/contacts";

/// The contact document.
fn contact(email: &str, ticket_id: &str) -> Json {
    Json::Object(vec![
        ("email".into(), Json::String(email.to_string())),
        ("ticket".into(), Json::String(ticket_id.to_string())),
    ])
}

struct CrmSync;

impl Plugin for CrmSync {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::TicketCreated(ticket) = event else {
            return Ok(Outcome::new("skipped: not a new ticket"));
        };
        let Some(requester_id) = ticket.requester_id.as_deref() else {
            return Ok(Outcome::new("skipped: requester unknown"));
        };
        let user = helpdesk::get_user_with(requester_id, &["requester.email"])?;
        let Some(email) = user.email else {
            return Ok(Outcome::new("skipped: email not granted"));
        };
        let endpoint = settings::get("endpoint")?
            .and_then(|e| e.as_str().map(str::to_string))
            .unwrap_or_else(|| ENDPOINT.to_string());
        let response = Request::post(&endpoint)
            .bearer_secret("crm_token")
            .json(&contact(&email, &ticket.id))
            .send()?;
        Ok(Outcome::new(match response.is_success() {
            true => "synced".to_string(),
            false => format!("failed: {}", response.status),
        }))
    }
}

airlock_sdk::export_plugin!(CrmSync);

#[cfg(test)]
mod tests {
    #[test]
    fn contact_document() {
        assert_eq!(
            super::contact("a@b.example", "t-1").to_string(),
            r#"{"email":"a@b.example","ticket":"t-1"}"#
        );
    }
}
