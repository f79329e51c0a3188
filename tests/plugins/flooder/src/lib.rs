//! flooder: a hostile test plugin that makes host calls without end, to make the host do
//! work its own deadline does not bound. Driven by the action payload:
//!
//! ```json
//! {"mode": "invalid" | "refused" | "valid" | "log" | "egress", "server": "http://127.0.0.1:18081"}
//! ```
//!
//! - `invalid`: calls with an id the host rejects before doing anything;
//! - `refused`: reads a field the manifest does not declare (denied);
//! - `valid`: reads the event's ticket;
//! - `log`: writes log lines;
//! - `egress`: requests `server` (which the test makes slow), again and again.
//!
//! Every loop ignores the errors it gets and never stops on its own.

use airlock_sdk::http::Request;
use airlock_sdk::{Error, Event, Json, Outcome, Plugin, helpdesk, log};

struct Flooder;

impl Plugin for Flooder {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::Action(action) = event else {
            return Ok(Outcome::new("ignored"));
        };
        let payload = Json::parse(&action.payload)?;
        let id = action.ticket.id.clone();
        let server = payload["server"]
            .as_str()
            .unwrap_or("http://127.0.0.1:18081")
            .to_string();
        let mode = payload["mode"].as_str().unwrap_or("valid").to_string();
        let mut calls: u64 = 0;
        loop {
            calls = core::hint::black_box(calls + 1);
            let _ = match mode.as_str() {
                "invalid" => helpdesk::get_ticket_with("not a valid id!", &[]).map(|_| ()),
                "refused" => helpdesk::get_ticket_with(&id, &["ticket.description"]).map(|_| ()),
                "log" => {
                    log::info!("call {calls}");
                    Ok(())
                }
                "egress" => Request::get(&format!("{server}/slow")).send().map(|_| ()),
                _ => helpdesk::get_ticket(&id).map(|_| ()),
            };
        }
    }
}

airlock_sdk::export_plugin!(Flooder);
