//! The panic hook: with `panic = "abort"` a guest panic is a trap whose message would be
//! lost, so the hook sends it to the host first.

// Only the wasm32 hook uses these outside tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
/// Longest panic report sent to the host, in bytes.
const MAX_REPORT: usize = 4096;

/// Installs the hook once per instance. A no-op off wasm32 (native unit tests keep the
/// default hook).
pub(crate) fn install_hook() {
    #[cfg(target_arch = "wasm32")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                let location = info.location().map(|l| (l.file(), l.line(), l.column()));
                let report = format_report(info.payload_as_str(), location);
                crate::bindings::airlock::plugin::log::report_panic(&report);
            }));
        });
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
/// `"<message> (at <file>:<line>:<column>)"`, cut to [`MAX_REPORT`] bytes.
pub(crate) fn format_report(message: Option<&str>, location: Option<(&str, u32, u32)>) -> String {
    let mut report = String::from(message.unwrap_or("panic with a non-string payload"));
    if let Some((file, line, column)) = location {
        report.push_str(&format!(" (at {file}:{line}:{column})"));
    }
    if report.len() > MAX_REPORT {
        let mut cut = MAX_REPORT - 3;
        while !report.is_char_boundary(cut) {
            cut -= 1;
        }
        report.truncate(cut);
        report.push_str("...");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_message_and_location() {
        assert_eq!(
            format_report(
                Some("probe panic: intentional"),
                Some(("src/lib.rs", 12, 9))
            ),
            "probe panic: intentional (at src/lib.rs:12:9)"
        );
        assert_eq!(format_report(Some("boom"), None), "boom");
        assert_eq!(format_report(None, None), "panic with a non-string payload");
    }

    #[test]
    fn truncates_on_a_char_boundary() {
        let long = "é".repeat(5000);
        let report = format_report(Some(&long), Some(("f.rs", 1, 1)));
        assert!(report.len() <= MAX_REPORT);
        assert!(report.ends_with("é..."));
    }

    #[test]
    fn install_is_a_native_noop() {
        install_hook();
        install_hook();
    }
}
