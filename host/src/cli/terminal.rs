//! Text on its way to a terminal. Output that holds plugin strings (log lines, reasons,
//! ids) must not carry terminal escapes or bidirectional controls: an escape sequence can
//! rewrite what an admin sees, and a right-to-left override can reverse it.

use std::borrow::Cow;

/// `text` with every control character but newline and tab, and every bidirectional
/// formatting character, written as a visible `\u{…}` escape.
///
/// ```
/// use airlock_host::cli::terminal::safe;
/// assert_eq!(safe("ok\n"), "ok\n");
/// assert_eq!(safe("\u{1b}[2Jhi"), "\\u{1b}[2Jhi");
/// assert_eq!(safe("abc\u{202e}fed"), "abc\\u{202e}fed");
/// ```
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Prints `text` made [`safe`].
pub fn print(text: &str) {
    print!("{}", safe(text));
}

/// Prints `line` made [`safe`], and a newline.
pub fn println(line: &str) {
    println!("{}", safe(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_controls_become_visible() {
        for hostile in [
            "\u{1b}]0;owned\u{7}",
            "\r",
            "\u{9b}31m",
            "\u{2067}x\u{2069}",
            "\u{7f}",
        ] {
            let shown = safe(hostile);
            assert!(!shown.chars().any(unsafe_char), "{hostile:?} -> {shown:?}");
            assert!(shown.contains("\\u{"), "{shown}");
        }
        assert!(matches!(safe("plain text\twith tabs\n"), Cow::Borrowed(_)));
    }
}
