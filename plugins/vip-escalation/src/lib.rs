//! vip-escalation: on `ticket-created` and `ticket-updated`, looks up the requester's
//! email domain; when it is one of the `vip_domains` setting, sets the ticket's custom
//! field `escalation` to `vip` and adds an internal note naming the organization (never the
//! email). Tickets already marked `escalation=vip` are skipped, so its own update does not
//! escalate twice.
//!
//! Summaries: `escalated`, `skipped: already escalated`, `not escalated: <reason>`.

use airlock_sdk::{Error, Event, Json, Outcome, Plugin, Ticket, helpdesk, log, settings};

const FIELD: &str = "escalation";
const VALUE: &str = "vip";

/// The `vip_domains` setting, lowercased (unset = none).
fn vip_domains(setting: Option<&Json>) -> Result<Vec<String>, Error> {
    let Some(setting) = setting else {
        return Ok(Vec::new());
    };
    let items = setting
        .as_array()
        .ok_or_else(|| Error::invalid("setting vip_domains must be a list of domains"))?;
    items
        .iter()
        .map(|d| {
            d.as_str()
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .ok_or_else(|| Error::invalid("setting vip_domains must be a list of domains"))
        })
        .collect()
}

/// The internal note; it names the organization when known and never copies the email.
fn note(org_name: Option<&str>) -> String {
    match org_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("VIP customer ({name}): escalated by vip-escalation"),
        None => "VIP customer: escalated by vip-escalation".to_owned(),
    }
}

/// The requester's organization name, if the call is granted and the name comes back.
fn organization_name(org_id: Option<&str>) -> Option<String> {
    let org_id = org_id?;
    match helpdesk::get_organization_with(org_id, &["organization.name"]) {
        Ok(org) => org.name,
        Err(e) => {
            log::warn!(
                "organization lookup failed ({}); escalating without its name",
                e.kind()
            );
            None
        }
    }
}

fn escalate(ticket: &Ticket) -> Result<Outcome, Error> {
    if ticket.custom_field(FIELD) == Some(VALUE) {
        return Ok(Outcome::new("skipped: already escalated"));
    }
    let Some(requester_id) = ticket.requester_id.as_deref() else {
        return Ok(Outcome::new("not escalated: requester unknown"));
    };
    let user = helpdesk::get_user_with(
        requester_id,
        &["requester.email", "requester.organization_id"],
    )?;
    let Some(domain) = user.email_domain() else {
        return Ok(Outcome::new("not escalated: requester email unavailable"));
    };
    let vip = vip_domains(settings::get("vip_domains")?.as_ref())?;
    if !vip.contains(&domain) {
        return Ok(Outcome::new("not escalated: not a VIP domain"));
    }
    let org_name = organization_name(user.organization_id.as_deref());
    helpdesk::set_custom_field(&ticket.id, FIELD, VALUE)?;
    helpdesk::add_internal_note(&ticket.id, &note(org_name.as_deref()))?;
    Ok(Outcome::new("escalated"))
}

struct VipEscalation;

impl Plugin for VipEscalation {
    fn handle(event: Event) -> Result<Outcome, Error> {
        match &event {
            Event::TicketCreated(ticket) | Event::TicketUpdated(ticket) => escalate(ticket),
            other => Ok(Outcome::new(format!("ignored: {}", other.kind()))),
        }
    }
}

airlock_sdk::export_plugin!(VipEscalation);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::CustomField;

    #[test]
    fn domains_are_normalized() {
        let json = Json::parse(r#"["BigCorp.Example", " @vip.example "]"#).unwrap();
        assert_eq!(
            vip_domains(Some(&json)).unwrap(),
            ["bigcorp.example", "vip.example"]
        );
        assert!(vip_domains(None).unwrap().is_empty());
        assert!(vip_domains(Some(&Json::parse(r#"[1]"#).unwrap())).is_err());
        assert!(vip_domains(Some(&Json::parse(r#""x""#).unwrap())).is_err());
    }

    #[test]
    fn note_never_needs_the_email() {
        assert_eq!(
            note(Some("Big Corp")),
            "VIP customer (Big Corp): escalated by vip-escalation"
        );
        assert_eq!(
            note(Some("  ")),
            "VIP customer: escalated by vip-escalation"
        );
        assert_eq!(note(None), "VIP customer: escalated by vip-escalation");
    }

    #[test]
    fn skips_without_host_calls() {
        let mut t = Ticket::new("1");
        t.custom_fields.push(CustomField {
            name: FIELD.into(),
            value: VALUE.into(),
        });
        assert_eq!(escalate(&t).unwrap().summary, "skipped: already escalated");
        assert_eq!(
            escalate(&Ticket::new("2")).unwrap().summary,
            "not escalated: requester unknown"
        );
    }
}
