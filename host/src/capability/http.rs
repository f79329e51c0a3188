//! `http.request`: brokered outbound HTTP. The checks live in [`crate::egress`]; this
//! capability puts them behind the broker so every request, allowed or refused, is one
//! audit record (call `http.request`) with `destination`, `method`, `path` (the declared
//! path it was allowed under), `url_digest` (a keyed digest of the URL), `status`,
//! `bytes_out`, `bytes_in` and `classes` in its details, and `subjects`: the data
//! subjects (`user:<id>`, `ticket:<id>`) whose records the invocation had read before the
//! request, so whose values it may carry (the first [`NAMED_SUBJECTS`], with
//! `subjects_total` when there are more).
//!
//! The destination, path and method are authorized in the pipeline's authorize step
//! ([`Egress::authorize`]); what the request carries is checked as it is sent
//! ([`Egress::send`]).

use super::wit::airlock::plugin::http as wit_http;
use super::{CallFailure, CallKind, CallName, CallState};
use crate::broker::{
    Brokered, CallContext, CallError, CallSpec, Capability, FieldPlan, Invocation, Need, Redaction,
    Report, Taint,
};
use crate::catalog;
use crate::egress::dlp::Tracked;
use crate::egress::{Approved, Egress, EgressError, InboundResponse, OutboundRequest, detail};
use crate::installation::Installation;

/// The audited call name.
pub const CALL: &str = "http.request";

/// The most data subjects one request's record names.
pub const NAMED_SUBJECTS: usize = 50;

/// The http capability's calls.
pub const CALLS: &[CallName] = &[CallName::new(CALL, CallKind::Egress, None)];

/// The capability, carrying what this invocation's plugin has been handed so far.
pub struct Http<'a> {
    egress: &'a Egress,
    tracked: Vec<Tracked>,
    taint: Taint,
}

impl<'a> Http<'a> {
    /// The capability for one call of an invocation: the egress service and the field
    /// values the plugin obtained so far (non-public catalog classes only).
    pub fn for_invocation(egress: &'a Egress, invocation: &Invocation) -> Http<'a> {
        let mut tracked: Vec<Tracked> = Vec::new();
        for seen in invocation.seen() {
            let Some(spec) = catalog::lookup(&seen.path) else {
                continue;
            };
            if spec.sensitivity == catalog::Sensitivity::Public {
                continue;
            }
            let class = spec.sensitivity.as_str();
            if let Some(t) = Tracked::new(&seen.path, class, &seen.value)
                && !tracked.contains(&t)
            {
                tracked.push(t);
            }
        }
        Http {
            egress,
            tracked,
            taint: invocation.taint().clone(),
        }
    }
}

impl Brokered for InboundResponse {
    // Not helpdesk data: nothing to project. Secrets were scrubbed by the egress step.
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}
    fn redact(&mut self, _: &dyn Redaction, _: &Installation, _: &mut Report) {}
}

/// What the authorize step hands to perform: the approved request.
#[derive(Default)]
pub struct Approval(Option<Approved>);

impl Capability for Http<'_> {
    type Request = OutboundRequest;
    type Output = InboundResponse;
    type Approval = Approval;

    fn describe(&self, _: &OutboundRequest) -> Result<CallSpec, CallError> {
        // Everything is checked in `authorize` and `perform`, so even malformed requests
        // are audited as `http.request` with what is known about them.
        Ok(CallSpec::new(CALL, "", Need::Nothing).with_effect())
    }

    fn authorize(
        &self,
        ctx: &CallContext,
        request: &OutboundRequest,
    ) -> Result<Approval, CallError> {
        // The URL as written tells requests apart in the audit, as a digest only: the
        // record's `path` is the declared path it was allowed under.
        ctx.note(detail::URL_DIGEST, ctx.opaque(&request.url));
        let (_, subjects) = ctx.provenance();
        if !subjects.is_empty() {
            let named: Vec<&str> = subjects
                .iter()
                .take(NAMED_SUBJECTS)
                .map(String::as_str)
                .collect();
            ctx.note("subjects", named.join(","));
            if subjects.len() > NAMED_SUBJECTS {
                ctx.note("subjects_total", subjects.len());
            }
        }
        let note = |key: &str, value: String| ctx.note(key, value);
        let approved = self
            .egress
            .authorize(&ctx.installation, request, &note, ctx.time_left())?;
        Ok(Approval(Some(approved)))
    }

    fn perform(
        &self,
        ctx: &CallContext,
        request: OutboundRequest,
        approval: Approval,
        _: &FieldPlan,
    ) -> Result<InboundResponse, CallError> {
        let approved = approval.0.ok_or_else(|| {
            CallError::Denied("the request was not authorized before it was sent".into())
        })?;
        let note = |key: &str, value: String| ctx.note(key, value);
        let installation = &ctx.installation;
        let (tracked, taint) = (&self.tracked, &self.taint);
        Ok(self
            .egress
            .send(installation, approved, tracked, taint, request, &note)?)
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

/// The http interface as a plugin sees it: each request is one brokered call.
impl wit_http::Host for CallState<'_> {
    fn request(
        &mut self,
        req: wit_http::HttpRequest,
    ) -> Result<wit_http::HttpResponse, CallFailure> {
        let capability = Http::for_invocation(&self.services.egress, self.invocation);
        let request = OutboundRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let response = self.invocation.call(&capability, request);
        self.settle(response.map(|r| wit_http::HttpResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }))
    }
}
