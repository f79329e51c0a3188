//! Helper methods on the contract's records.

use crate::{Action, Comment, CommentEvent, Event, Organization, Outcome, Ticket, User};

impl Ticket {
    /// A ticket with only its id set: handy for tests.
    ///
    /// ```
    /// use airlock_sdk::Ticket;
    /// let t = Ticket::new("42");
    /// assert_eq!(t.id, "42");
    /// assert!(t.subject.is_none() && t.custom_fields.is_empty());
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Ticket {
            id: id.into(),
            subject: None,
            description: None,
            status: None,
            priority: None,
            tags: None,
            requester_id: None,
            assignee_id: None,
            organization_id: None,
            custom_fields: Vec::new(),
            created_at: None,
            updated_at: None,
        }
    }

    /// The value of the custom field `name` (field path `ticket.custom_fields.<name>`), if
    /// present and granted.
    ///
    /// ```
    /// use airlock_sdk::{CustomField, Ticket};
    /// let mut t = Ticket::new("42");
    /// t.custom_fields.push(CustomField { name: "escalation".into(), value: "vip".into() });
    /// assert_eq!(t.custom_field("escalation"), Some("vip"));
    /// assert_eq!(t.custom_field("plan"), None);
    /// ```
    pub fn custom_field(&self, name: &str) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// Whether the ticket's tags (if granted) contain `tag` exactly.
    ///
    /// ```
    /// use airlock_sdk::Ticket;
    /// let mut t = Ticket::new("42");
    /// assert!(!t.has_tag("vip"));
    /// t.tags = Some(vec!["vip".into()]);
    /// assert!(t.has_tag("vip"));
    /// ```
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|t| t == tag)
    }
}

impl User {
    /// A user with only its id set: handy for tests.
    ///
    /// ```
    /// use airlock_sdk::User;
    /// assert!(User::new("7").email.is_none());
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        User {
            id: id.into(),
            name: None,
            email: None,
            phone: None,
            organization_id: None,
            role: None,
            locale: None,
            notes: None,
        }
    }

    /// The domain of the user's email address, lowercased, if the email was granted and
    /// looks like `local@domain`.
    ///
    /// ```
    /// use airlock_sdk::User;
    /// let mut u = User::new("7");
    /// assert_eq!(u.email_domain(), None);
    /// u.email = Some(" Ada@BigCorp.Example ".into());
    /// assert_eq!(u.email_domain().as_deref(), Some("bigcorp.example"));
    /// u.email = Some("not-an-email".into());
    /// assert_eq!(u.email_domain(), None);
    /// ```
    pub fn email_domain(&self) -> Option<String> {
        let email = self.email.as_deref()?.trim();
        let (local, domain) = email.rsplit_once('@')?;
        let valid = !local.is_empty()
            && !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains(|c: char| c.is_whitespace() || c == '@');
        valid.then(|| domain.to_ascii_lowercase())
    }
}

impl Organization {
    /// An organization with only its id set: handy for tests.
    ///
    /// ```
    /// use airlock_sdk::Organization;
    /// assert!(Organization::new("9").name.is_none());
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Organization {
            id: id.into(),
            name: None,
            domain_names: None,
            tags: None,
            notes: None,
        }
    }

    /// Whether `domain` (case-insensitively) is one of the organization's domain names
    /// (`organization.domain_names`, if granted).
    ///
    /// ```
    /// use airlock_sdk::Organization;
    /// let mut org = Organization::new("9");
    /// org.domain_names = Some(vec!["bigcorp.example".into()]);
    /// assert!(org.has_domain("BigCorp.example"));
    /// assert!(!org.has_domain("other.example"));
    /// ```
    pub fn has_domain(&self, domain: &str) -> bool {
        self.domain_names
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

impl Comment {
    /// A comment with only its ids set: handy for tests.
    ///
    /// ```
    /// use airlock_sdk::Comment;
    /// let c = Comment::new("c1", "42");
    /// assert_eq!((c.id.as_str(), c.ticket_id.as_str()), ("c1", "42"));
    /// ```
    pub fn new(id: impl Into<String>, ticket_id: impl Into<String>) -> Self {
        Comment {
            id: id.into(),
            ticket_id: ticket_id.into(),
            author_id: None,
            body: None,
            public: None,
            created_at: None,
        }
    }
}

impl Event {
    /// The event's name as used in `plugin.toml`'s `events`: `ticket-created`,
    /// `ticket-updated`, `comment-added`, `action` or `schedule`.
    ///
    /// ```
    /// use airlock_sdk::{Event, Ticket};
    /// assert_eq!(Event::TicketUpdated(Ticket::new("1")).kind(), "ticket-updated");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Event::TicketCreated(_) => "ticket-created",
            Event::TicketUpdated(_) => "ticket-updated",
            Event::CommentAdded(_) => "comment-added",
            Event::Action(_) => "action",
            Event::Schedule => "schedule",
        }
    }

    /// The pre-fetched ticket the event is about (every event but `schedule` has one).
    ///
    /// ```
    /// use airlock_sdk::{Comment, CommentEvent, Event, Ticket};
    /// let ev = Event::CommentAdded(CommentEvent { ticket: Ticket::new("42"), comment: Comment::new("c", "42") });
    /// assert_eq!(ev.ticket().map(|t| t.id.as_str()), Some("42"));
    /// assert!(Event::Schedule.ticket().is_none());
    /// ```
    pub fn ticket(&self) -> Option<&Ticket> {
        match self {
            Event::TicketCreated(t) | Event::TicketUpdated(t) => Some(t),
            Event::CommentAdded(CommentEvent { ticket, .. }) => Some(ticket),
            Event::Action(Action { ticket, .. }) => Some(ticket),
            Event::Schedule => None,
        }
    }

    /// Consumes the event, returning its ticket, if it has one.
    ///
    /// ```
    /// use airlock_sdk::{Event, Ticket};
    /// let ticket = Event::TicketCreated(Ticket::new("42")).into_ticket().unwrap();
    /// assert_eq!(ticket.id, "42");
    /// ```
    pub fn into_ticket(self) -> Option<Ticket> {
        match self {
            Event::TicketCreated(t) | Event::TicketUpdated(t) => Some(t),
            Event::CommentAdded(CommentEvent { ticket, .. }) => Some(ticket),
            Event::Action(Action { ticket, .. }) => Some(ticket),
            Event::Schedule => None,
        }
    }

    /// The new comment, for `comment-added` events.
    ///
    /// ```
    /// use airlock_sdk::{Event, Ticket};
    /// assert!(Event::TicketCreated(Ticket::new("1")).comment().is_none());
    /// ```
    pub fn comment(&self) -> Option<&Comment> {
        match self {
            Event::CommentAdded(ev) => Some(&ev.comment),
            _ => None,
        }
    }

    /// The action, for `action` events.
    ///
    /// ```
    /// use airlock_sdk::{Action, Event, Ticket};
    /// let ev = Event::Action(Action { name: "sync".into(), ticket: Ticket::new("1"), payload: "{}".into() });
    /// assert_eq!(ev.action().map(|a| a.name.as_str()), Some("sync"));
    /// ```
    pub fn action(&self) -> Option<&Action> {
        match self {
            Event::Action(a) => Some(a),
            _ => None,
        }
    }
}

impl Outcome {
    /// An outcome with the given summary. Keep it short (the host rejects summaries over
    /// 4 KiB) and free of personal data: it is stored in the run history.
    ///
    /// ```
    /// use airlock_sdk::Outcome;
    /// assert_eq!(Outcome::new("done").summary, "done");
    /// ```
    pub fn new(summary: impl Into<String>) -> Self {
        Outcome {
            summary: summary.into(),
        }
    }
}

impl From<String> for Outcome {
    fn from(summary: String) -> Self {
        Outcome::new(summary)
    }
}

impl From<&str> for Outcome {
    fn from(summary: &str) -> Self {
        Outcome::new(summary)
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    #[test]
    fn email_domain_edge_cases() {
        let domain = |e: &str| {
            let mut u = User::new("1");
            u.email = Some(e.into());
            u.email_domain()
        };
        assert_eq!(domain("a@b.example").as_deref(), Some("b.example"));
        assert_eq!(
            domain("\"odd@local\"@X.example").as_deref(),
            Some("x.example")
        );
        assert_eq!(domain("@b.example"), None);
        assert_eq!(domain("a@"), None);
        assert_eq!(domain("a@.example"), None);
        assert_eq!(domain("a@example."), None);
        assert_eq!(domain("a@exa mple"), None);
        assert_eq!(domain(""), None);
    }

    #[test]
    fn event_accessors() {
        let action = Event::Action(Action {
            name: "a".into(),
            ticket: Ticket::new("5"),
            payload: "{}".into(),
        });
        assert_eq!(action.kind(), "action");
        assert_eq!(action.ticket().unwrap().id, "5");
        assert!(action.comment().is_none());
        let comment = Event::CommentAdded(CommentEvent {
            ticket: Ticket::new("6"),
            comment: Comment::new("c", "6"),
        });
        assert_eq!(comment.kind(), "comment-added");
        assert_eq!(comment.comment().unwrap().id, "c");
        assert!(comment.action().is_none());
        assert_eq!(comment.into_ticket().unwrap().id, "6");
    }

    #[test]
    fn custom_fields_and_tags() {
        let mut t = Ticket::new("1");
        t.custom_fields.push(CustomField {
            name: "a".into(),
            value: "1".into(),
        });
        assert_eq!(t.custom_field("a"), Some("1"));
        assert_eq!(t.custom_field("A"), None);
        assert!(!t.has_tag("x"));
        t.tags = Some(vec!["x".into()]);
        assert!(t.has_tag("x"));
        assert_eq!(Outcome::from("s").summary, "s");
        assert_eq!(Outcome::from(String::from("t")).summary, "t");
    }
}
