//! String literals for each language the FIC is rendered in. Every value idp writes is
//! quoted here, so an issuer or subject can never end or extend the literal it sits in.

/// A POSIX shell word (see [`idp_core::text::shell_word`]).
pub use idp_core::text::shell_word as sh;

/// An ARM template string value. A string that starts with `[` and ends with `]` is an
/// expression in a template; a literal of that shape is escaped by doubling the first
/// bracket. Any other string is taken as written.
/// Source: Microsoft Learn, "Template syntax", Expressions: "To have a literal string start
/// with a left bracket `[` and end with a right bracket `]` … add an extra bracket to
/// start the string with `[[`".
pub fn arm(s: &str) -> String {
    if s.starts_with('[') && s.ends_with(']') {
        format!("[{s}")
    } else {
        s.to_owned()
    }
}

/// A Bicep string literal: single quotes; `\`, `'` and `${` (interpolation) escaped.
/// Source: Microsoft Learn, "Bicep data types", Strings (escapes `\\ \' \n \r \t \$`).
pub fn bicep(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str(r"\$"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Terraform (HCL) quoted string: `\` and `"` escaped, and the template sequences `${`
/// and `%{` doubled so they stay literal.
/// Source: developer.hashicorp.com, Terraform language, "Strings and Templates"
/// (escape sequences; `$${` and `%%{`).
pub fn hcl(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_any_quote() {
        assert_eq!(sh("plain"), "'plain'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh(""), "''");
        assert_eq!(sh("$(x) `y` \"z\""), "'$(x) `y` \"z\"'");
    }

    #[test]
    fn arm_escapes_only_what_would_be_an_expression() {
        assert_eq!(arm("[resourceGroup().id]"), "[[resourceGroup().id]");
        assert_eq!(arm("[x"), "[x");
        assert_eq!(arm("x]"), "x]");
        assert_eq!(arm("[test] value"), "[test] value");
        assert_eq!(arm("https://h/p"), "https://h/p");
        assert_eq!(arm("[]"), "[[]");
    }

    #[test]
    fn bicep_escapes_quotes_backslashes_and_interpolation() {
        assert_eq!(bicep("a'b"), r"'a\'b'");
        assert_eq!(bicep(r"a\b"), r"'a\\b'");
        assert_eq!(bicep("${x}"), r"'\${x}'");
        assert_eq!(bicep("$x {y}"), "'$x {y}'");
        assert_eq!(bicep("a\nb\tc\rd"), r"'a\nb\tc\rd'");
    }

    #[test]
    fn hcl_escapes_quotes_backslashes_and_templates() {
        assert_eq!(hcl("a\"b"), r#""a\"b""#);
        assert_eq!(hcl(r"a\b"), r#""a\\b""#);
        assert_eq!(hcl("${x} %{if}"), r#""$${x} %%{if}""#);
        assert_eq!(hcl("$x %y"), r#""$x %y""#);
        assert_eq!(hcl("a\nb\tc\rd"), r#""a\nb\tc\rd""#);
    }
}
