//! A realistic, deterministic demo data set: organizations, users and hundreds of
//! tickets with fake names, emails and phones, and test card numbers (Luhn-valid) and
//! SSN-shaped numbers inside some descriptions.

use crate::model::{Comment, Dataset, Organization, Ticket, User};

/// A small deterministic generator (splitmix64), so the demo is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
    "Radia", "Tim", "Hedy", "John", "Karen", "Niklaus", "Sophie", "Yuki", "Amara", "Mateo",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Jones",
    "Wirth",
    "Wilson",
    "Tanaka",
    "Okafor",
    "Garcia",
];
const ORGS: &[(&str, &str)] = &[
    ("Big Corp", "bigcorp.example"),
    ("Acme Widgets", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Health", "umbrella.example"),
    ("Stark Industries", "stark.example"),
];
const SUBJECTS: &[&str] = &[
    "Refund request for order",
    "Cannot log in to my account",
    "Invoice shows the wrong amount",
    "App crashes when uploading a file",
    "Question about shipping times",
    "Password reset link expired",
    "Charged twice this month",
    "Feature request: dark mode",
    "Urgent: outage in production",
    "How do I export my data?",
];
/// Luhn-valid test card numbers published by card networks for testing.
const TEST_CARDS: &[&str] = &[
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "2223003122003222",
    "3782 822463 10005",
    "6011 1111 1111 1117",
];
const SSN_SHAPED: &[&str] = &["123-45-6789", "078-05-1120", "219-09-9999"];

/// Generates the demo data set with `tickets` tickets.
///
/// ```
/// let data = airlock_host::demo::dataset(300);
/// assert_eq!(data.tickets.len(), 300);
/// assert!(data.tickets.iter().any(|t| t.description.as_deref().unwrap_or("").contains("4111")));
/// ```
pub fn dataset(tickets: usize) -> Dataset {
    let mut rng = Rng(0xA1B2_C3D4);
    let mut data = Dataset::default();
    for (i, (name, domain)) in ORGS.iter().enumerate() {
        data.organizations.push(Organization {
            id: format!("org-{}", i + 1),
            name: Some(name.to_string()),
            domain_names: vec![domain.to_string()],
            tags: if i == 0 { vec!["vip".into()] } else { vec![] },
            notes: Some(format!("Account managed by team {}", i % 3 + 1)),
        });
    }
    let users = (tickets / 3).max(10);
    for i in 0..users {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let org = rng.below(ORGS.len());
        data.users.push(User {
            id: format!("u-{}", 1000 + i),
            name: Some(format!("{first} {last}")),
            email: Some(format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                i,
                ORGS[org].1
            )),
            phone: Some(format!("+1 415 555 {:04}", rng.below(10_000))),
            organization_id: Some(format!("org-{}", org + 1)),
            role: Some("end-user".into()),
            locale: Some(rng.pick(&["en-US", "en-GB", "de-DE", "fr-FR"]).to_string()),
            notes: (i % 7 == 0).then(|| "Prefers phone contact".to_string()),
        });
    }
    for i in 0..tickets {
        let user = &data.users[rng.below(users)];
        let subject = rng.pick(SUBJECTS);
        let mut description = format!(
            "Hello, this is {}. {subject}. Order #{} placed on 2026-{:02}-{:02}.",
            user.name.as_deref().unwrap_or("a customer"),
            100_000 + rng.below(900_000),
            rng.below(12) + 1,
            rng.below(28) + 1
        );
        match i % 10 {
            0 => description.push_str(&format!(
                " My card is {} if you need it.",
                rng.pick(TEST_CARDS)
            )),
            3 => description.push_str(&format!(
                " My SSN is {} for verification.",
                rng.pick(SSN_SHAPED)
            )),
            6 => description.push_str(&format!(
                " Call me back on {}.",
                user.phone.as_deref().unwrap_or("")
            )),
            _ => {}
        }
        let day = 1 + i % 28;
        data.tickets.push(Ticket {
            id: format!("t-{}", 1 + i),
            subject: Some(format!("{subject} #{}", 5000 + i)),
            description: Some(description),
            status: Some(rng.pick(&["new", "open", "pending", "solved"]).to_string()),
            priority: Some(
                rng.pick(&["low", "normal", "normal", "high", "urgent"])
                    .to_string(),
            ),
            tags: vec![],
            requester_id: Some(user.id.clone()),
            assignee_id: Some(format!("agent-{}", 1 + rng.below(5))),
            organization_id: user.organization_id.clone(),
            custom_fields: [("order_id".to_string(), format!("ORD-{}", 70_000 + i))].into(),
            created_at: Some(format!("2026-11-{day:02}T09:{:02}:00.000Z", i % 60)),
            updated_at: Some(format!("2026-11-{day:02}T10:{:02}:00.000Z", i % 60)),
        });
        if i % 2 == 0 {
            data.comments.push(Comment {
                id: format!("c-{}", 1 + i),
                ticket_id: format!("t-{}", 1 + i),
                author_id: user.id.clone().into(),
                body: Some("Any update on this? Thanks!".into()),
                public: true,
                created_at: Some(format!("2026-11-{day:02}T11:00:00.000Z")),
            });
        }
    }
    data
}
