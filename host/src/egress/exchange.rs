//! The exchange: connecting to the checked address, sending, and following redirects
//! that pass every check themselves, each hop within the invocation's deadline.

use super::*;

impl Egress {
    /// Sends the request and follows redirects that pass every check themselves. Each
    /// hop's destination (as declared) and status go in the `hops` detail.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn follow(
        &self,
        inst: &Installation,
        tracked: &[Tracked],
        taint: &dyn ReadFlows,
        names: &BTreeSet<String>,
        mut x: Exchange,
        guard: &ReflectionGuard,
        note: Note<'_>,
    ) -> Result<InboundResponse, EgressError> {
        let (mut bytes_out, mut bytes_in) = (0usize, 0usize);
        let mut hops: Vec<String> = Vec::new();
        for hop in 0..=self.config.max_redirects {
            let target = self.pin(&x.dest, &x.label, &x.url)?;
            let target_path = match x.url.query() {
                Some(q) => format!("{}?{q}", x.url.path()),
                None => x.url.path().to_string(),
            };
            let wire = client::WireRequest {
                method: &x.method,
                target: &target_path,
                headers: &x.wire_headers,
                body: &x.body,
            };
            let timeout = self.hop_timeout(&x)?;
            let result =
                self.transport
                    .exchange(&target, &wire, timeout, self.config.max_response_bytes);
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    let (out, inn) = match &e {
                        client::ClientError::TooLarge(n) => (wire_size(&wire), *n),
                        _ => (0, 0),
                    };
                    note(detail::BYTES_OUT, (bytes_out + out).to_string());
                    note(detail::BYTES_IN, (bytes_in + inn).to_string());
                    if e == client::ClientError::Timeout && timeout < self.config.timeout {
                        return Err(out_of_time(&x.label));
                    }
                    return Err(self.client_error(&x.label, e));
                }
            };
            bytes_out += response.bytes_out;
            bytes_in += response.bytes_in;
            note(detail::BYTES_OUT, bytes_out.to_string());
            note(detail::BYTES_IN, bytes_in.to_string());
            note(detail::STATUS, response.status.to_string());
            hops.push(format!("{} {}", x.label, response.status));
            note(detail::HOPS, hops.join(" -> "));
            let location = response
                .headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.clone());
            let redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            let Some(location) = location.filter(|_| redirect) else {
                if guard.reflected(&response.headers, &response.body) {
                    note(detail::WITHHELD, "reflected-secret".to_string());
                    return Err(denied(format!(
                        "the response from {} was withheld: it reflected a secret of this installation, and a plugin never receives a secret",
                        x.label
                    )));
                }
                return Ok(InboundResponse {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                });
            };
            if hop == self.config.max_redirects {
                return Err(denied(format!(
                    "more than {} redirects",
                    self.config.max_redirects
                )));
            }
            let next = x
                .url
                .join(&location)
                .map_err(|_| denied("a redirect to an invalid URL was refused"))?;
            let next_dest = Destination::of_url(&next)
                .ok_or_else(|| denied("a redirect to a non-http(s) URL was refused"))?;
            let next_label = declared_label(inst, &next_dest);
            note(detail::REDIRECT, next_label.clone());
            if response.status == 303
                || (matches!(response.status, 301 | 302) && x.method == "POST")
            {
                if x.method != "HEAD" {
                    x.method = "GET".into();
                }
                x.body.clear();
            }
            let refused = |e: EgressError| {
                denied(format!("redirect to {next_label} refused: {}", e.message()))
            };
            let next_rule = self
                .select_rule(inst, &next_dest, &next_label, next.path(), &x.method, names)
                .map_err(refused)?;
            self.check_scheme(&next_dest).map_err(refused)?;
            check_taint(taint, &next_rule.send, &next_label).map_err(refused)?;
            let body_text = String::from_utf8_lossy(&x.body).into_owned();
            let mut parts: Vec<(Part, &str)> = x
                .headers
                .iter()
                .enumerate()
                .map(|(i, (_, v))| (Part::Header(i), v.as_str()))
                .collect();
            parts.push((Part::Body, &body_text));
            let rescan = self.scan(tracked, &next_rule.send, &parts);
            let unapproved = rescan.unapproved();
            if !unapproved.is_empty() {
                note(detail::BLOCKED, unapproved.join(","));
                return Err(refused(dlp_denial(&next_label, &unapproved, &rescan)));
            }
            x.url = next;
            x.dest = next_dest;
            x.label = next_label;
        }
        Err(denied("too many redirects"))
    }

    /// Resolves and checks the address to connect to.
    fn pin(
        &self,
        dest: &Destination,
        label: &str,
        url: &Url,
    ) -> Result<client::Target, EgressError> {
        let (ips, literal) = match &dest.host {
            HostPattern::Ip(ip) => (vec![*ip], true),
            HostPattern::Name(name) => (
                self.resolver.resolve(name, dest.port).map_err(|_| {
                    EgressError::Unavailable(format!("cannot resolve the host of {label}"))
                })?,
                false,
            ),
            HostPattern::Wildcard(_) => return Err(denied("a wildcard is not a host")),
        };
        let Some(&ip) = ips.first() else {
            return Err(EgressError::Unavailable(format!(
                "the host of {label} has no address"
            )));
        };
        for &ip in &ips {
            // A non-public address is reachable only when the destination names it
            // explicitly (and the admin approved that destination, checked before).
            if let Some(class) = ssrf::classify(ip)
                && !literal
            {
                return Err(denied(format!(
                    "the host of {label} resolves to a {class} address; names may resolve only to public addresses (SSRF protection)"
                )));
            }
        }
        if dest.scheme == "http" && !ssrf::is_loopback(ip) {
            return Err(denied("plain http is allowed only to loopback addresses"));
        }
        let host = url.host_str().unwrap_or_default().to_string();
        Ok(client::Target {
            ip,
            port: dest.port,
            tls_name: (dest.scheme == "https").then(|| {
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string()
            }),
            host_header: match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            },
        })
    }

    /// How long the next hop may take: the configured timeout, cut to what is left of
    /// the invocation's deadline. `limit` when nothing is left.
    fn hop_timeout(&self, x: &Exchange) -> Result<std::time::Duration, EgressError> {
        let Some(deadline) = x.deadline else {
            return Ok(self.config.timeout);
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(out_of_time(&x.label));
        }
        Ok(left.min(self.config.timeout))
    }

    fn client_error(&self, label: &str, e: client::ClientError) -> EgressError {
        match e {
            client::ClientError::Timeout => EgressError::Limit(format!(
                "{label} did not answer within {} ms",
                self.config.timeout.as_millis()
            )),
            client::ClientError::TooLarge(_) => EgressError::Limit(format!(
                "the response from {label} is larger than {} bytes",
                self.config.max_response_bytes
            )),
            client::ClientError::Io(kind) => {
                EgressError::Unavailable(format!("cannot reach {label}: {kind}"))
            }
            client::ClientError::Protocol(m) => {
                EgressError::Unavailable(format!("bad response from {label}: {m}"))
            }
        }
    }
}
