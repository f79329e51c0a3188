//! Brokered reads and writes of helpdesk data.
//!
//! Reads take field paths such as `"ticket.subject"` or `"requester.email"`. The plain
//! functions ask for every field the plugin declared in `plugin.toml`; the `_with`
//! variants ask for specific ones. Asking for an undeclared field fails with
//! [`Error::Denied`]; a declared field the admin did not grant comes back as `None`.
//! Record ids are always returned.
//!
//! ```no_run
//! use airlock_sdk::helpdesk;
//! let user = helpdesk::get_user_with("7", &["requester.email"])?;
//! if let Some(domain) = user.email_domain() {
//!     helpdesk::add_internal_note("42", &format!("requester domain: {domain}"))?;
//! }
//! # Ok::<(), airlock_sdk::Error>(())
//! ```

use crate::bindings::airlock::plugin::helpdesk as wit;
use crate::{Comment, Error, Organization, Ticket, TicketQuery, User};

fn owned(items: &[impl AsRef<str>]) -> Vec<String> {
    items.iter().map(|s| s.as_ref().to_owned()).collect()
}

/// Fetches a ticket with every field the plugin declared.
///
/// ```no_run
/// let ticket = airlock_sdk::helpdesk::get_ticket("42")?;
/// let status = ticket.status.as_deref().unwrap_or("unknown");
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get_ticket(id: &str) -> Result<Ticket, Error> {
    get_ticket_with(id, &[])
}

/// Fetches a ticket with the given `ticket.*` fields.
///
/// ```no_run
/// let ticket = airlock_sdk::helpdesk::get_ticket_with("42", &["ticket.status", "ticket.tags"])?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get_ticket_with(id: &str, fields: &[&str]) -> Result<Ticket, Error> {
    crate::host_call!("helpdesk::get_ticket");
    Ok(wit::get_ticket(id, &owned(fields))?)
}

/// Fetches a user (a requester or agent) with every `requester.*` field declared.
///
/// ```no_run
/// let user = airlock_sdk::helpdesk::get_user("7")?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get_user(id: &str) -> Result<User, Error> {
    get_user_with(id, &[])
}

/// Fetches a user with the given `requester.*` fields.
///
/// ```no_run
/// let user = airlock_sdk::helpdesk::get_user_with("7", &["requester.email", "requester.organization_id"])?;
/// let domain = user.email_domain();
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get_user_with(id: &str, fields: &[&str]) -> Result<User, Error> {
    crate::host_call!("helpdesk::get_user");
    Ok(wit::get_user(id, &owned(fields))?)
}

/// Fetches an organization with every `organization.*` field declared.
///
/// ```no_run
/// let org = airlock_sdk::helpdesk::get_organization("9")?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get_organization(id: &str) -> Result<Organization, Error> {
    get_organization_with(id, &[])
}

/// Fetches an organization with the given `organization.*` fields.
///
/// ```no_run
/// let org = airlock_sdk::helpdesk::get_organization_with("9", &["organization.name"])?;
/// let name = org.name.unwrap_or_else(|| "unknown".into());
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get_organization_with(id: &str, fields: &[&str]) -> Result<Organization, Error> {
    crate::host_call!("helpdesk::get_organization");
    Ok(wit::get_organization(id, &owned(fields))?)
}

/// Lists at most `limit` comments of a ticket (capped by the host), oldest first, with
/// every `comment.*` field declared.
///
/// ```no_run
/// let comments = airlock_sdk::helpdesk::list_comments("42", 20)?;
/// let public = comments.iter().filter(|c| c.public == Some(true)).count();
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn list_comments(ticket_id: &str, limit: u32) -> Result<Vec<Comment>, Error> {
    list_comments_with(ticket_id, &[], limit)
}

/// Lists at most `limit` comments of a ticket with the given `comment.*` fields.
///
/// ```no_run
/// let comments = airlock_sdk::helpdesk::list_comments_with("42", &["comment.body"], 5)?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn list_comments_with(
    ticket_id: &str,
    fields: &[&str],
    limit: u32,
) -> Result<Vec<Comment>, Error> {
    crate::host_call!("helpdesk::list_comments");
    Ok(wit::list_comments(ticket_id, &owned(fields), limit)?)
}

/// Finds at most `limit` tickets (capped by the host), newest first, with every
/// `ticket.*` field declared. Needs read access to the field searched on
/// (`ticket.requester_id`, `ticket.tags` or `ticket.status`).
///
/// ```no_run
/// use airlock_sdk::{helpdesk, TicketQuery};
/// let open = helpdesk::search_tickets(TicketQuery::Status("open".into()), 10)?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn search_tickets(query: TicketQuery, limit: u32) -> Result<Vec<Ticket>, Error> {
    search_tickets_with(query, &[], limit)
}

/// Finds at most `limit` tickets with the given `ticket.*` fields.
///
/// ```no_run
/// use airlock_sdk::{helpdesk, TicketQuery};
/// let earlier = helpdesk::search_tickets_with(TicketQuery::Requester("7".into()), &["ticket.subject"], 5)?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn search_tickets_with(
    query: TicketQuery,
    fields: &[&str],
    limit: u32,
) -> Result<Vec<Ticket>, Error> {
    crate::host_call!("helpdesk::search_tickets");
    Ok(wit::search_tickets(&query, &owned(fields), limit)?)
}

/// Adds tags to a ticket. Needs write access to `ticket.tags`.
///
/// ```no_run
/// let tags: Vec<String> = vec!["billing".into()];
/// airlock_sdk::helpdesk::add_tags("42", &tags)?;
/// airlock_sdk::helpdesk::add_tags("42", &["urgent", "vip"])?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn add_tags(ticket_id: &str, tags: &[impl AsRef<str>]) -> Result<(), Error> {
    crate::host_call!("helpdesk::add_tags");
    Ok(wit::add_tags(ticket_id, &owned(tags))?)
}

/// Adds an internal (agent-only) note to a ticket. Needs write access to
/// `ticket.internal_notes`.
///
/// ```no_run
/// airlock_sdk::helpdesk::add_internal_note("42", "Escalated by my-plugin")?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn add_internal_note(ticket_id: &str, body: &str) -> Result<(), Error> {
    crate::host_call!("helpdesk::add_internal_note");
    Ok(wit::add_internal_note(ticket_id, body)?)
}

/// Sets a custom field of a ticket. Needs write access to `ticket.custom_fields.<name>`.
///
/// ```no_run
/// airlock_sdk::helpdesk::set_custom_field("42", "escalation", "vip")?;
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn set_custom_field(ticket_id: &str, name: &str, value: &str) -> Result<(), Error> {
    crate::host_call!("helpdesk::set_custom_field");
    Ok(wit::set_custom_field(ticket_id, name, value)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn owned_copies_strings() {
        assert_eq!(
            super::owned(&["a", "b"]),
            vec!["a".to_string(), "b".to_string()]
        );
        let none: [&str; 0] = [];
        assert!(super::owned(&none).is_empty());
    }
}
