//! Vendors and their keys: which signed bundles this host trusts, and the vendor's
//! security reviews.
//!
//! A signed bundle is trusted when its key is pinned to the vendor its manifest names,
//! or is reached from a pinned key by endorsements (then it is pinned too, a rotation).
//! A vendor's first key is pinned only when the admin confirms its fingerprint. Each
//! pin is an audit record (`admin.vendor.key.pin`, `admin.vendor.key.rotate`), and so
//! is each security review (`admin.vendor.review`).

use super::admin::Admin;
use super::{Airlock, AppError, AppResult};
use crate::monitor::Rule;
use crate::store::VendorStore;
use crate::vendor::{PinnedKey, SecurityReview, Vendor, check_date, check_text};
use airlock_bundle::{BundleError, Opened, PublicKey, Trust};
use std::collections::BTreeMap;

/// How a bundle's signer stands with this host, for the install review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatus {
    /// Signed by a key pinned to the vendor.
    Pinned,
    /// Signed by a new key a pinned key endorsed; pinned by this install.
    Rotated,
    /// The vendor's first key, pinned by this install on the admin's confirmation.
    FirstTrusted,
    /// Not signed (dev mode or `--allow-unsigned`).
    Unsigned,
}

/// What trusting a bundle's signer takes ([`Admin::decide_trust`]).
#[derive(Debug, Clone)]
pub(super) enum TrustDecision {
    /// Unsigned, and allowed.
    Unsigned,
    /// Signed by a pinned key.
    Pinned,
    /// Signed by `to`, endorsed through the chain by the pinned `from`: pin `to`.
    Rotate { from: PublicKey, to: PublicKey },
    /// The vendor's first key, its fingerprint confirmed: pin it.
    First(PublicKey),
}

impl Airlock {
    /// Every vendor, by name.
    pub fn vendors(&self) -> AppResult<Vec<Vendor>> {
        Ok(self.store.vendors()?)
    }

    /// One vendor, or `NotFound`.
    pub fn vendor(&self, name: &str) -> AppResult<Vendor> {
        self.store.vendor(name)?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no vendor `{}`; `airlock vendor list` shows them",
                name.escape_debug()
            ))
        })
    }

    /// Days between vendor security reviews (`vendor_review_days`, default 365).
    pub fn vendor_review_days(&self) -> u32 {
        self.lifecycle.vendor_review_days
    }

    /// Raises `vendor-review-overdue` for each vendor whose last
    /// security review is older than `days` (or that was never reviewed), once per
    /// vendor and review. Returns the vendors overdue.
    pub fn check_vendor_reviews(&self, days: u32) -> AppResult<Vec<String>> {
        let cutoff = time::OffsetDateTime::now_utc().date() - time::Duration::days(days.into());
        let cutoff = cutoff.to_string();
        let raised = self.monitor.store().alerts(&crate::monitor::AlertQuery {
            rule: Some(Rule::VendorReviewOverdue),
            ..Default::default()
        })?;
        let mut overdue = Vec::new();
        for vendor in self.store.vendors()? {
            let last = vendor.last_review.as_ref().map(|r| r.date.clone());
            if last.as_ref().is_some_and(|d| *d >= cutoff) {
                continue;
            }
            let since = last.unwrap_or_else(|| "never".into());
            overdue.push(vendor.name.clone());
            let already = raised.iter().any(|a| {
                a.details.get("vendor") == Some(&vendor.name)
                    && a.details.get("last_review") == Some(&since)
            });
            if !already {
                let message = format!(
                    "vendor {} was last reviewed {since}, more than {days} days ago; record one with `airlock vendor review`",
                    vendor.name
                );
                let details = BTreeMap::from([
                    ("vendor".to_string(), vendor.name.clone()),
                    ("last_review".into(), since),
                    ("review_days".into(), days.to_string()),
                ]);
                self.monitor.raise_alert(
                    Rule::VendorReviewOverdue,
                    (crate::audit::HOST_INSTALLATION, ""),
                    message,
                    details,
                )?;
            }
        }
        Ok(overdue)
    }
}

impl Admin<'_> {
    /// Decides whether this host trusts the signer of `opened`, changing nothing: a
    /// pinned key, a rotation endorsed by one, a vendor's first key whose fingerprint the
    /// admin confirmed (`confirm`), or, with `allow_unsigned`, no signature at all.
    pub(super) fn decide_trust(
        &self,
        opened: &Opened,
        confirm: Option<&str>,
        allow_unsigned: bool,
    ) -> AppResult<TrustDecision> {
        let Some(signer) = &opened.signer else {
            return match allow_unsigned {
                true => Ok(TrustDecision::Unsigned),
                false => Err(AppError::Invalid(
                    "the plugin is not signed: install a bundle made by `airlock plugin pack --key <vendor key>`, or pass --allow-unsigned (allow_unsigned in the API) to install it unsigned, on the record"
                        .into(),
                )),
            };
        };
        let vendor = self
            .airlock
            .store
            .vendor(&opened.vendor)?
            .unwrap_or_default();
        let pinned: Vec<PublicKey> = vendor
            .public_keys()
            .filter_map(|k| PublicKey::from_hex(k).ok())
            .collect();
        match opened.trust(&pinned) {
            Ok(Trust::Pinned(_)) => Ok(TrustDecision::Pinned),
            Ok(Trust::Rotated { from, to }) => Ok(TrustDecision::Rotate { from, to }),
            Err(BundleError::Untrusted { fingerprint, .. }) if pinned.is_empty() => {
                match confirm == Some(fingerprint.as_str()) {
                    true => Ok(TrustDecision::First(signer.key)),
                    false => Err(AppError::Invalid(format!(
                        "vendor `{}` is new to this host: check with the vendor that its key's fingerprint is {fingerprint}, then confirm it with --trust-vendor-key {fingerprint} (trust_vendor_key in the API)",
                        opened.vendor
                    ))),
                }
            }
            Err(e) => Err(AppError::Invalid(format!(
                "{e}; a new key must carry an endorsement signed by a pinned key (`airlock vendor endorse`)"
            ))),
        }
    }

    /// Carries out a trust decision for `vendor`: pins a first or rotated key.
    pub(super) fn pin_trusted(
        &self,
        vendor: &str,
        decision: &TrustDecision,
    ) -> AppResult<KeyStatus> {
        Ok(match decision {
            TrustDecision::Unsigned => KeyStatus::Unsigned,
            TrustDecision::Pinned => KeyStatus::Pinned,
            TrustDecision::Rotate { from, to } => {
                self.pin(vendor, to, Some(from))?;
                KeyStatus::Rotated
            }
            TrustDecision::First(key) => {
                self.pin(vendor, key, None)?;
                KeyStatus::FirstTrusted
            }
        })
    }

    /// Pins `key` to `vendor`, recorded as `admin.vendor.key.pin`, or as
    /// `admin.vendor.key.rotate` when `endorsed_by` vouched for it.
    fn pin(&self, vendor: &str, key: &PublicKey, endorsed_by: Option<&PublicKey>) -> AppResult<()> {
        let call = match endorsed_by {
            Some(_) => "admin.vendor.key.rotate",
            None => "admin.vendor.key.pin",
        };
        let pinned = PinnedKey {
            public_key: key.to_hex(),
            fingerprint: key.fingerprint(),
            pinned_at: crate::audit::now_rfc3339(),
            pinned_by: self.actor.principal.actor.clone(),
            endorsed_by: endorsed_by.map(PublicKey::fingerprint),
        };
        let mut details = BTreeMap::from([
            ("vendor".to_string(), vendor.to_string()),
            ("fingerprint".into(), pinned.fingerprint.clone()),
        ]);
        if let Some(by) = &pinned.endorsed_by {
            details.insert("endorsed_by".into(), by.clone());
        }
        self.airlock.store.update_vendor(vendor, &mut |v| {
            let v = v.get_or_insert_with(|| Vendor {
                name: vendor.to_string(),
                ..Default::default()
            });
            if v.keys.iter().any(|k| k.public_key == pinned.public_key) {
                return false;
            }
            v.keys.push(pinned.clone());
            true
        })?;
        self.airlock
            .record_by(self.actor, call, "", Ok(()), details)
    }

    /// Records a security review of `vendor` on `date` (`YYYY-MM-DD`), as
    /// `admin.vendor.review`; `contact` replaces the vendor's contact when given.
    pub fn review_vendor(
        &self,
        vendor: &str,
        date: &str,
        notes: &str,
        contact: Option<&str>,
    ) -> AppResult<Vendor> {
        self.audited("admin.vendor.review", "", || {
            check_date(date).map_err(AppError::Invalid)?;
            check_text("the notes", notes).map_err(AppError::Invalid)?;
            if let Some(c) = contact {
                check_text("the contact", c).map_err(AppError::Invalid)?;
            }
            self.airlock.vendor(vendor)?;
            let review = SecurityReview {
                date: date.into(),
                notes: notes.into(),
                by: self.actor.principal.actor.clone(),
            };
            let updated = self.airlock.store.update_vendor(vendor, &mut |v| {
                let Some(v) = v else { return false };
                v.last_review = Some(review.clone());
                if let Some(c) = contact {
                    v.contact = Some(c.to_string());
                }
                true
            })?;
            let vendor =
                updated.ok_or_else(|| AppError::NotFound(format!("no vendor `{vendor}`")))?;
            // The notes are the admin's words: recorded by length, not quoted.
            let d = BTreeMap::from([
                ("vendor".to_string(), vendor.name.clone()),
                ("date".into(), date.to_string()),
                ("notes_chars".into(), notes.chars().count().to_string()),
            ]);
            Ok((vendor, d))
        })
    }
}
