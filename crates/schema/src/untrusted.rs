//! Client- and provider-supplied text on its way into a log line.
//!
//! A log line is read by people and parsed by tools; text the gateway did not write must not be
//! able to forge a line (a `model` holding `\n2026-… INFO asbru::request: success`), drive the
//! operator's terminal (escape codes), or fill the disk (a 900 KB model name logged whole).

use std::fmt;

/// Characters of untrusted text kept in a log line; the rest is summarised by its length.
pub const MAX_LOGGED_CHARS: usize = 200;

/// Displays untrusted text for a log line: control characters (newlines, escape codes, …) are
/// written escaped as `\n`, `\u{1b}`, and the text is cut after [`MAX_LOGGED_CHARS`] characters
/// with the number of bytes left out.
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (count, (at, c)) in self.0.char_indices().enumerate() {
            if count == MAX_LOGGED_CHARS {
                return write!(f, "…({} more bytes)", self.0.len() - at);
            }
            if c.is_control() || is_bidi_or_invisible(c) {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// Characters that reorder or hide what a terminal shows (bidirectional overrides, zero-width).
fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_a_line_or_drive_a_terminal() {
        let forged = "gpt-4o\n2026-12-07T00:00:00Z  INFO asbru::request: success\u{1b}[2J\r";
        let shown = Untrusted(forged).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.starts_with("gpt-4o\\u{a}2026"), "{shown}");
        assert!(shown.contains("\\u{1b}[2J\\u{d}"), "{shown}");
        assert_eq!(Untrusted("a\u{202e}b").to_string(), "a\\u{202e}b");
    }

    #[test]
    fn long_text_is_cut_with_its_length() {
        let long = "é".repeat(450_000);
        let shown = Untrusted(&long).to_string();
        assert!(shown.len() < 1000, "{}", shown.len());
        assert!(shown.ends_with("…(899600 more bytes)"), "{shown}");
        assert_eq!(Untrusted("gpt-4o").to_string(), "gpt-4o");
    }
}
