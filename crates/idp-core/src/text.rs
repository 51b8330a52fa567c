//! Characters that cannot be typed reliably.
//!
//! Entra compares a FIC's issuer and subject with the assertion's `iss` and `sub` byte for
//! byte. A string holding a character that does not show, shows as something else, or
//! reorders the text around it cannot be copied into a portal field, a template or a
//! pipeline variable with confidence, so idp refuses it and says which character, where.

use std::fmt;

/// One character that cannot be typed reliably, and where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Untypeable {
    /// 1-based position, in characters.
    pub position: usize,
    pub found: char,
    pub kind: Kind,
}

/// Why the character cannot be typed reliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unicode general category Cc (U+0000–U+001F, U+007F–U+009F).
    Control,
    /// Invisible or bidirectional formatting (Unicode's default-ignorable code points,
    /// the bidi controls among them).
    Invisible,
    /// White space other than the plain space U+0020 (tab, no-break space, …).
    OtherWhitespace,
    /// A private-use or noncharacter code point: nothing standard displays it.
    Unassigned,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Control => "a control character",
            Kind::Invisible => "an invisible or bidirectional formatting character",
            Kind::OtherWhitespace => "white space other than a plain space",
            Kind::Unassigned => "a private-use or noncharacter code point",
        }
    }
}

impl fmt::Display for Untypeable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "U+{:04X} ({}) at character {}",
            u32::from(self.found),
            self.kind.describe(),
            self.position
        )
    }
}

/// What kind of untypeable character `c` is, if it is one.
pub fn kind_of(c: char) -> Option<Kind> {
    let u = u32::from(c);
    if c.is_control() {
        return Some(Kind::Control);
    }
    if is_default_ignorable(u) {
        return Some(Kind::Invisible);
    }
    if c.is_whitespace() && c != ' ' {
        return Some(Kind::OtherWhitespace);
    }
    let private_use =
        (0xE000..=0xF8FF).contains(&u) || (0xF0000..=0xFFFFD).contains(&u) || u >= 0x100000;
    let noncharacter = (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE;
    (private_use || noncharacter).then_some(Kind::Unassigned)
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters that
/// render as nothing, among them the zero-width characters and the bidi controls.
fn is_default_ignorable(u: u32) -> bool {
    matches!(
        u,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// The first character of `s` that cannot be typed reliably.
pub fn first_untypeable(s: &str) -> Option<Untypeable> {
    s.chars().enumerate().find_map(|(i, c)| {
        kind_of(c).map(|kind| Untypeable {
            position: i + 1,
            found: c,
            kind,
        })
    })
}

/// `s` as one POSIX shell word: single quotes, with `'` written as `'\''`. The result is
/// one word after `sh` word splitting, whatever `s` holds.
pub fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_found_with_its_position() {
        for (s, position, found, kind) in [
            ("a\u{1}b", 2, '\u{1}', Kind::Control),
            ("ab\u{7f}", 3, '\u{7f}', Kind::Control),
            ("\u{85}", 1, '\u{85}', Kind::Control),
            ("a\u{200B}b", 2, '\u{200B}', Kind::Invisible),
            ("ab\u{202E}c", 3, '\u{202E}', Kind::Invisible),
            ("\u{2066}x", 1, '\u{2066}', Kind::Invisible),
            ("x\u{FEFF}", 2, '\u{FEFF}', Kind::Invisible),
            ("soft\u{AD}hyphen", 5, '\u{AD}', Kind::Invisible),
            ("a\u{E0041}", 2, '\u{E0041}', Kind::Invisible),
            ("no\u{A0}break", 3, '\u{A0}', Kind::OtherWhitespace),
            ("tab\tx", 4, '\t', Kind::Control),
            ("ideo\u{3000}", 5, '\u{3000}', Kind::OtherWhitespace),
            ("é\u{E000}", 2, '\u{E000}', Kind::Unassigned),
            ("\u{FDD0}", 1, '\u{FDD0}', Kind::Unassigned),
            ("\u{1FFFE}", 1, '\u{1FFFE}', Kind::Unassigned),
            ("\u{10FFFF}", 1, '\u{10FFFF}', Kind::Unassigned),
            ("\u{F0000}", 1, '\u{F0000}', Kind::Unassigned),
        ] {
            assert_eq!(
                first_untypeable(s),
                Some(Untypeable {
                    position,
                    found,
                    kind
                }),
                "{s:?}"
            );
        }
    }

    #[test]
    fn ordinary_text_in_any_script_passes() {
        for s in [
            "customer 42 / deploy",
            "repo:org/app:ref:refs/heads/main",
            "über-kunde",
            "日本語の顧客",
            "emoji-🚀",
            "\u{FFFD}",
            "\u{FFFC}",
        ] {
            assert_eq!(first_untypeable(s), None, "{s:?}");
        }
    }

    #[test]
    fn the_message_names_the_code_point_and_the_position() {
        let u = first_untypeable("ab\u{200B}").unwrap();
        assert_eq!(
            u.to_string(),
            "U+200B (an invisible or bidirectional formatting character) at character 3"
        );
    }
}
