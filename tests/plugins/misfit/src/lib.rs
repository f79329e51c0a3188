//! misfit: a hostile test plugin driven by its action payload.
//!
//! ```json
//! {"values": ["vera@bigcorp.example", "{name}"], "server": "http://127.0.0.1:18081",
//!  "end": "error" | "panic" | "fake-panic-then-loop" | "fake-panic-then-oom" |
//!         "mutual-recursion" | "bad-utf8" | "ok"}
//! ```
//!
//! Every value (`{name}` becomes the requester's name, read through the broker) goes
//! through every channel a plugin controls that could reach an audit record: a settings
//! key, record ids, field paths, a custom field name, a tag, a search value, a log line,
//! an HTTP method, a URL host, path and query, a header name and value. Values are also
//! sent in the forms those channels accept: `slug` (lowercase, `_` for the rest) and
//! `idish` (`.` for what an id may not hold). Then it ends as `end` says, with the values
//! in its error or panic message.

use airlock_sdk::http::Request;
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, TicketQuery, helpdesk, log, settings};

/// Lowercase ASCII letters and digits, `_` for anything else.
pub fn slug(v: &str) -> String {
    v.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '_',
        })
        .collect()
}

/// The value with `.` for every character an id may not hold.
pub fn idish(v: &str) -> String {
    v.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | ':' | '-' => c,
            _ => '.',
        })
        .collect()
}

fn url_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every channel, for one value. Errors are the point: they are ignored.
fn poison(ticket_id: &str, server: &str, v: &str) {
    let (slug, id) = (slug(v), idish(v));
    let _ = settings::get_raw(v);
    let _ = settings::get_raw(&slug);
    let _ = helpdesk::get_ticket(&id);
    let _ = helpdesk::get_user(&id);
    let _ = helpdesk::get_organization(&id);
    let _ = helpdesk::list_comments(&id, 5);
    let _ = helpdesk::add_tags(&id, &["probe"]);
    let _ = helpdesk::get_ticket_with(ticket_id, &[&format!("ticket.custom_fields.{slug}")]);
    let _ = helpdesk::get_ticket_with(ticket_id, &[v]);
    let _ = helpdesk::set_custom_field(ticket_id, &slug, v);
    let _ = helpdesk::add_tags(ticket_id, &[v]);
    let _ = helpdesk::add_tags(ticket_id, &[slug.as_str()]);
    let _ = helpdesk::search_tickets(TicketQuery::Tag(v.into()), 5);
    let _ = helpdesk::search_tickets(TicketQuery::Requester(id.clone()), 5);
    log::write(log::Level::Info, v);
    let requests = [
        Request::new(v, &format!("{server}/api")),
        Request::new(&slug.to_uppercase(), &format!("{server}/api")),
        Request::new("GET", &format!("https://{slug}.pii.test/")),
        Request::new("GET", &format!("https://{}.pii.test/", id.replace('.', "-"))),
        Request::new("GET", &format!("{server}/api/{}", url_encode(v))),
        Request::new("GET", &format!("{server}/api/{slug}?q={}", url_encode(v))),
        Request::new("GET", &format!("{server}/api")).header(&format!("x-{slug}"), "1"),
        Request::new("GET", &format!("{server}/api")).header("x-probe", v),
        Request::new("GET", &format!("{server}/{slug}")),
    ];
    for request in requests {
        let _ = request.send();
    }
}

#[inline(never)]
fn ping(depth: u64) -> u64 {
    let mut frame = [0u8; 2048];
    frame[(depth % 2048) as usize] = depth as u8;
    pong(core::hint::black_box(&frame)[7] as u64 + depth + 1).rotate_left(3)
}

#[inline(never)]
fn pong(depth: u64) -> u64 {
    let mut frame = [1u8; 2048];
    frame[(depth % 2048) as usize] = depth as u8;
    ping(core::hint::black_box(&frame)[9] as u64 + depth + 1).rotate_left(5)
}

fn fake_panic(message: &str) {
    airlock_sdk::bindings::airlock::plugin::log::report_panic(message);
}

struct Misfit;

impl Plugin for Misfit {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::Action(action) = event else {
            return Ok(Outcome::new("ignored"));
        };
        let payload = Json::parse(&action.payload)?;
        let mut name = String::new();
        if let Some(id) = action.ticket.requester_id.as_deref() {
            name = helpdesk::get_user(id)?.name.unwrap_or_default();
        }
        let server = payload["server"].as_str().unwrap_or("http://127.0.0.1:18081");
        let values: Vec<String> = payload["values"]
            .as_array()
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| v.as_str())
            .map(|v| v.replace("{name}", &name))
            .collect();
        for v in &values {
            poison(&action.ticket.id, server, v);
        }
        let all = values.join(" | ");
        match payload["end"].as_str().unwrap_or("ok") {
            "error" => Err(Error::invalid(format!("cannot handle {all}"))),
            "denied" => Err(Error::denied(all)),
            "panic" => panic!("cannot handle {all}"),
            "fake-panic-then-loop" => {
                fake_panic(&format!("fake: {all}"));
                let mut i: u64 = 0;
                loop {
                    i = core::hint::black_box(i.wrapping_add(1));
                }
            }
            "fake-panic-then-oom" => {
                fake_panic(&format!("fake: {all}"));
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = vec![0u8; 1 << 20];
                    block[4095] = 1;
                    blocks.push(core::hint::black_box(block));
                }
            }
            "mutual-recursion" => Ok(Outcome::new(format!("{}", ping(0)))),
            "bad-utf8" => {
                // SAFETY: deliberately not UTF-8; the host must refuse to lift it.
                let summary = unsafe { String::from_utf8_unchecked(vec![b'o', 0xff, 0xfe]) };
                Ok(Outcome::new(summary))
            }
            _ => Ok(Outcome::new(format!("{} values", values.len()))),
        }
    }
}

airlock_sdk::export_plugin!(Misfit);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(slug("Vera L@x.io"), "vera_l_x_io");
        assert_eq!(idish("+1 (415)"), ".1..415.");
        assert_eq!(url_encode("a b"), "a%20b");
    }
}
