//! `http.request`: brokered outbound HTTP. The checks live in [`crate::egress`]; this
//! capability puts them behind the broker so every request, allowed or refused, is one
//! audit record (call `http.request`) with `destination`, `method`, `path` (the declared
//! path it was allowed under), `url_digest` (a keyed digest of the URL), `status`,
//! `bytes_out`, `bytes_in` and `classes` in its details.

use crate::broker::Taint;
use crate::broker::{
    Brokered, CallContext, CallError, CallSpec, Capability, FieldPlan, Invocation, Need, Redaction,
    Report,
};
use crate::catalog;
use crate::egress::dlp::Tracked;
use crate::egress::{Egress, EgressError, InboundResponse, OutboundRequest};
use crate::installation::Installation;
use std::sync::Arc;

/// The audited call name.
pub const CALL: &str = "http.request";

/// The capability, carrying what this invocation's plugin has been handed so far.
pub struct Http {
    egress: Arc<Egress>,
    tracked: Vec<Tracked>,
    taint: Taint,
}

impl Http {
    /// The capability for one call of an invocation: the egress service and the field
    /// values the plugin obtained so far (non-public catalog classes only).
    pub fn for_invocation(invocation: &Invocation) -> Http {
        let mut tracked: Vec<Tracked> = Vec::new();
        for seen in invocation.seen() {
            let Some(spec) = catalog::lookup(&seen.path) else {
                continue;
            };
            let class = spec.sensitivity.to_string();
            if class == "public" {
                continue;
            }
            if let Some(t) = Tracked::new(&seen.path, &class, &seen.value)
                && !tracked.contains(&t)
            {
                tracked.push(t);
            }
        }
        let egress = invocation.services().egress.clone();
        let taint = invocation.taint().clone();
        Http {
            egress,
            tracked,
            taint,
        }
    }
}

impl Brokered for InboundResponse {
    // Not helpdesk data: nothing to project. Secrets were scrubbed by the egress step.
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}
    fn redact(&mut self, _: &dyn Redaction, _: &Installation, _: &mut Report) {}
}

impl Capability for Http {
    type Request = OutboundRequest;
    type Output = InboundResponse;

    fn describe(&self, _: &OutboundRequest) -> Result<CallSpec, CallError> {
        // Everything is checked in `perform`, so even malformed requests are audited as
        // `http.request` with what is known about them.
        Ok(CallSpec::new(CALL, "", Need::Nothing))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        request: OutboundRequest,
        _: &FieldPlan,
    ) -> Result<InboundResponse, CallError> {
        // The URL as written tells requests apart in the audit, as a digest only: the
        // record's `path` is the declared path it was allowed under.
        ctx.note("url_digest", ctx.opaque(&request.url));
        let note = |key: &str, value: String| ctx.note(key, value);
        self.egress
            .execute(ctx.installation, &self.tracked, &self.taint, request, &note)
            .map_err(CallError::from)
    }
}

impl From<EgressError> for CallError {
    fn from(e: EgressError) -> CallError {
        match e {
            EgressError::Denied(m) => CallError::Denied(m),
            EgressError::Invalid(m) => CallError::Invalid(m),
            EgressError::Limit(m) => CallError::Limit(m),
            EgressError::Unavailable(m) => CallError::Unavailable(m),
        }
    }
}
