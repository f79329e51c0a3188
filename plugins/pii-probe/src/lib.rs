//! pii-probe: a deliberately over-curious plugin for testing the broker. It declares
//! `ticket.subject`, `ticket.requester_id`, `requester.email` and `requester.phone`, then on
//! `ticket-created`:
//!
//! 1. asks for `requester.notes` (undeclared: expected `denied`);
//! 2. asks for `ticket.description` (undeclared: expected `denied`);
//! 3. asks for `requester.phone` and `requester.email` (declared: `none` unless granted).
//!
//! It never logs or returns any value. Its summary is one line of `field=result` pairs in
//! this fixed order, each result one of `denied`, `none`, `present`, `skipped` (no
//! requester id) or `error-<kind>`:
//!
//! `requester.notes=denied ticket.description=denied requester.phone=none requester.email=present`

use airlock_sdk::{Error, Event, Outcome, Plugin, helpdesk};

/// Classifies a read: whether it was refused, or whether the field came back.
fn classify<T>(result: &Result<T, Error>, field: impl Fn(&T) -> bool) -> String {
    match result {
        Ok(record) if field(record) => "present".to_owned(),
        Ok(_) => "none".to_owned(),
        Err(Error::Denied(_)) => "denied".to_owned(),
        Err(e) => format!("error-{}", e.kind()),
    }
}

struct PiiProbe;

impl Plugin for PiiProbe {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::TicketCreated(ticket) = event else {
            return Ok(Outcome::new("ignored"));
        };
        let skipped = || "skipped".to_owned();

        let notes = match ticket.requester_id.as_deref() {
            Some(id) => classify(&helpdesk::get_user_with(id, &["requester.notes"]), |u| {
                u.notes.is_some()
            }),
            None => skipped(),
        };
        let description = classify(
            &helpdesk::get_ticket_with(&ticket.id, &["ticket.description"]),
            |t| t.description.is_some(),
        );
        let (phone, email) = match ticket.requester_id.as_deref() {
            Some(id) => {
                let user = helpdesk::get_user_with(id, &["requester.phone", "requester.email"]);
                (
                    classify(&user, |u| u.phone.is_some()),
                    classify(&user, |u| u.email.is_some()),
                )
            }
            None => (skipped(), skipped()),
        };
        Ok(Outcome::new(format!(
            "requester.notes={notes} ticket.description={description} requester.phone={phone} requester.email={email}"
        )))
    }
}

airlock_sdk::export_plugin!(PiiProbe);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::User;

    #[test]
    fn classification() {
        let mut user = User::new("1");
        user.email = Some("x".into());
        let ok: Result<User, Error> = Ok(user);
        assert_eq!(classify(&ok, |u| u.email.is_some()), "present");
        assert_eq!(classify(&ok, |u| u.phone.is_some()), "none");
        let denied: Result<User, Error> = Err(Error::denied("requester.notes"));
        assert_eq!(classify(&denied, |_| true), "denied");
        let limit: Result<User, Error> = Err(Error::limit("calls"));
        assert_eq!(classify(&limit, |_| true), "error-limit");
    }
}
