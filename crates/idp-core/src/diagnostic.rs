//! What the user reads after an error besides the message: what to do, and whether the
//! fault is their input (exit 2) or an operation that failed (exit 1). Each error type of
//! idp's crates answers for itself, beside its definition ([`Diagnostic`]); a [`Report`]
//! keeps that answer through `?` and any context added on the way up, so the binary only
//! asks the report.
//!
//! ```
//! use idp_core::diagnostic::{Context as _, Report};
//! fn lifetime(raw: &str) -> Result<std::time::Duration, Report> {
//!     Ok(idp_core::duration::parse(raw).context("invalid --lifetime")?)
//! }
//! let report = lifetime("ten minutes").unwrap_err();
//! assert!(report.is_usage());
//! assert!(report.hint().is_some());
//! assert_eq!(report.lines()[0], "invalid --lifetime");
//! ```

use std::fmt;

/// An error that knows what to tell the user.
pub trait Diagnostic: std::error::Error + Send + Sync + 'static {
    /// What to do about it, when there is something to say.
    fn hint(&self) -> Option<String> {
        None
    }
    /// Whether the user's input or configuration is at fault (exit 2), rather than an
    /// operation that failed (exit 1).
    fn is_usage(&self) -> bool {
        false
    }
}

/// Exit code for a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for an operation that failed.
pub const EXIT_FAILED: u8 = 1;

/// A failed read or write of the operating system: an operation that failed.
impl Diagnostic for std::io::Error {}
/// A document idp wrote or read that does not serialise: an operation that failed.
impl Diagnostic for serde_json::Error {}

/// `e`'s message, then each of its sources' that the text before it does not already end
/// with: a message that names its cause ("could not write x: {source}") is not followed by
/// that cause again.
pub fn causes(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut lines = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !lines.last().is_some_and(|l| l.ends_with(&text)) {
            lines.push(text);
        }
        source = s.source();
    }
    lines
}

/// An error found by idp's own code, with what to do and whether it is the user's to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
    pub usage: bool,
}

impl Problem {
    /// The user's to fix (exit 2), and what to do.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
            usage: true,
        }
    }

    /// An operation that failed (exit 1), and what to do.
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
            usage: false,
        }
    }

    /// A failure whose message already said everything (exit 1, no hint).
    pub fn reported(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            usage: false,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
    fn is_usage(&self) -> bool {
        self.usage
    }
}

/// Any [`Diagnostic`], boxed, still answering for its hint and exit code, and still an
/// error whose causes can be walked: for an error passed through code that does not know
/// its type (the maker of an assertion, which signs with a key or fetches a token).
#[derive(Debug)]
pub struct Boxed(Box<dyn Diagnostic>);

impl Boxed {
    pub fn new(cause: impl Diagnostic) -> Self {
        Self(Box::new(cause))
    }

    pub fn inner(&self) -> &dyn Diagnostic {
        self.0.as_ref()
    }
}

impl fmt::Display for Boxed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Boxed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Diagnostic for Boxed {
    fn hint(&self) -> Option<String> {
        self.0.hint()
    }
    fn is_usage(&self) -> bool {
        self.0.is_usage()
    }
}

/// One layer of context around an error: what was being done, and optionally what to do
/// and whose fault it is, which then outrank the error's own.
#[derive(Debug, Clone)]
struct Frame {
    message: String,
    hint: Option<String>,
    usage: Option<bool>,
}

/// An error on its way to the user: the error itself (a [`Diagnostic`]) and the context
/// added around it. Any `Diagnostic` becomes one with `?`.
pub struct Report {
    error: Box<dyn Diagnostic>,
    /// Innermost first.
    frames: Vec<Frame>,
}

impl<E: Diagnostic> From<E> for Report {
    fn from(error: E) -> Self {
        Self {
            error: Box::new(error),
            frames: Vec::new(),
        }
    }
}

impl Report {
    /// The user's to fix (exit 2): `message`, and `hint` says what to do.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Problem::usage(message, hint).into()
    }

    /// An operation that failed (exit 1): `message`, and `hint` says what to do.
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Problem::failed(message, hint).into()
    }

    /// Adds what was being done.
    pub fn context(mut self, message: impl Into<String>) -> Self {
        self.frames.push(Frame {
            message: message.into(),
            hint: None,
            usage: None,
        });
        self
    }

    /// Adds what was being done, what to do, and whose fault it is, which outrank the
    /// error's own.
    pub fn context_with(mut self, problem: Problem) -> Self {
        self.frames.push(Frame {
            message: problem.message,
            hint: problem.hint,
            usage: Some(problem.usage),
        });
        self
    }

    /// Whether the user's input is at fault: the outermost context that says, else the
    /// error.
    pub fn is_usage(&self) -> bool {
        self.frames
            .iter()
            .rev()
            .find_map(|f| f.usage)
            .unwrap_or_else(|| self.error.is_usage())
    }

    /// The process's exit code: 2 for the user's input, 1 for a failed operation.
    pub fn exit_code(&self) -> u8 {
        if self.is_usage() {
            EXIT_USAGE
        } else {
            EXIT_FAILED
        }
    }

    /// What to do: the outermost context's hint, else the error's.
    pub fn hint(&self) -> Option<String> {
        self.frames
            .iter()
            .rev()
            .find_map(|f| f.hint.clone())
            .or_else(|| self.error.hint())
    }

    /// The messages, outermost first: each context, the error, then its sources.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .frames
            .iter()
            .rev()
            .map(|f| f.message.clone())
            .collect();
        lines.extend(causes(&*self.error));
        lines
    }

    /// The error itself.
    pub fn error(&self) -> &dyn Diagnostic {
        &*self.error
    }

    /// The error, or one of its sources, as a `T`.
    pub fn find<T: std::error::Error + 'static>(&self) -> Option<&T> {
        let mut e: Option<&(dyn std::error::Error + 'static)> = Some(&*self.error);
        while let Some(cur) = e {
            if let Some(t) = cur.downcast_ref::<T>() {
                return Some(t);
            }
            e = cur.source();
        }
        None
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("lines", &self.lines())
            .field("hint", &self.hint())
            .field("usage", &self.is_usage())
            .finish()
    }
}

impl fmt::Display for Report {
    /// The outermost message; with `{:#}`, every message joined by `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.lines();
        if f.alternate() {
            f.write_str(&lines.join(": "))
        } else {
            f.write_str(&lines[0])
        }
    }
}

/// Context on a result, keeping the error's diagnosis.
pub trait Context<T> {
    /// Adds what was being done.
    fn context(self, message: impl Into<String>) -> Result<T, Report>;
    /// Adds what was being done, made only on failure.
    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T, Report>;
    /// Adds what was being done and what to do, which outrank the error's own.
    fn problem(self, problem: impl FnOnce() -> Problem) -> Result<T, Report>;
}

impl<T, E: Into<Report>> Context<T> for Result<T, E> {
    fn context(self, message: impl Into<String>) -> Result<T, Report> {
        self.map_err(|e| e.into().context(message))
    }

    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T, Report> {
        self.map_err(|e| e.into().context(message()))
    }

    fn problem(self, problem: impl FnOnce() -> Problem) -> Result<T, Report> {
        self.map_err(|e| e.into().context_with(problem()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer thing failed")]
    struct Outer(#[source] std::io::Error);

    impl Diagnostic for Outer {
        fn hint(&self) -> Option<String> {
            Some("do the outer thing".into())
        }
        fn is_usage(&self) -> bool {
            true
        }
    }

    fn through_question_mark<E: Diagnostic>(e: E) -> Result<(), Report> {
        Err(e)?
    }

    #[derive(Debug, thiserror::Error)]
    #[error("could not write x: {0}")]
    struct Says(#[source] std::io::Error);

    impl Diagnostic for Says {}

    /// A message that already names its cause is not followed by it again (`sign --out`
    /// into a missing folder printed "folder nope does not exist" twice); a cause it does
    /// not name is still printed.
    #[test]
    fn a_cause_the_message_already_names_is_not_repeated() {
        let r = through_question_mark(Says(std::io::Error::other("folder nope does not exist")))
            .unwrap_err();
        assert_eq!(r.lines(), ["could not write x: folder nope does not exist"]);
        let r = through_question_mark(Outer(std::io::Error::other("nope"))).unwrap_err();
        assert_eq!(r.lines(), ["outer thing failed", "nope"]);
    }

    /// A boxed diagnostic is its inner error: text, cause, hint and exit code (the usage
    /// side caught by cargo mutants).
    #[test]
    fn a_boxed_diagnostic_keeps_everything_of_its_inner_one() {
        let b = Boxed::new(Outer(std::io::Error::other("disk on fire")));
        assert!(b.is_usage());
        assert_eq!(b.hint().as_deref(), Some("do the outer thing"));
        assert_eq!(b.to_string(), "outer thing failed");
        let r = through_question_mark(b).unwrap_err();
        assert_eq!(r.exit_code(), EXIT_USAGE);
        assert_eq!(r.lines(), ["outer thing failed", "disk on fire"]);
        // What a failing test's `{e:?}` shows: every line, the hint, the kind.
        let debug = format!("{r:?}");
        assert!(
            debug.contains("disk on fire") && debug.contains("do the outer thing"),
            "{debug}"
        );
        assert!(debug.contains("usage: true"), "{debug}");
        let failed = Boxed::new(Says(std::io::Error::other("x")));
        assert!(!failed.is_usage());
        assert_eq!(failed.inner().to_string(), "could not write x: x");
        let p = Problem::failed("the thing failed", "do this");
        assert_eq!(p.to_string(), "the thing failed");
        assert_eq!(Boxed::new(p).to_string(), "the thing failed");
    }

    #[test]
    fn a_diagnostic_keeps_its_hint_and_code_through_question_mark() {
        let r = through_question_mark(Outer(std::io::Error::other("disk on fire"))).unwrap_err();
        assert_eq!(r.exit_code(), EXIT_USAGE);
        assert_eq!(r.hint().as_deref(), Some("do the outer thing"));
        assert_eq!(r.lines(), ["outer thing failed", "disk on fire"]);
        assert!(r.find::<std::io::Error>().is_some());
        assert!(r.find::<Problem>().is_none());
    }

    #[test]
    fn plain_context_keeps_the_errors_diagnosis_and_a_problem_outranks_it() {
        let r: Result<(), Report> =
            through_question_mark(Outer(std::io::Error::other("x"))).context("while reading");
        let r = r.unwrap_err();
        assert_eq!(r.lines()[0], "while reading");
        assert!(r.is_usage());
        assert_eq!(r.hint().as_deref(), Some("do the outer thing"));
        assert_eq!(format!("{r}"), "while reading");
        assert_eq!(format!("{r:#}"), "while reading: outer thing failed: x");

        let r = Err::<(), _>(r)
            .problem(|| Problem::failed("the command failed", "try again"))
            .unwrap_err();
        assert_eq!(r.exit_code(), EXIT_FAILED);
        assert_eq!(r.hint().as_deref(), Some("try again"));
        assert_eq!(r.lines()[..2], ["the command failed", "while reading"]);
    }

    #[test]
    fn io_errors_are_failures_without_a_hint() {
        let r = Report::from(std::io::Error::other("nope"));
        assert_eq!(r.exit_code(), EXIT_FAILED);
        assert_eq!(r.hint(), None);
        let r = Report::usage("bad", "fix it");
        assert_eq!(
            (r.exit_code(), r.hint().as_deref()),
            (EXIT_USAGE, Some("fix it"))
        );
        let r = Report::failed("broke", "wait");
        assert_eq!(
            (r.exit_code(), r.hint().as_deref()),
            (EXIT_FAILED, Some("wait"))
        );
        let p = Problem::reported("said it all");
        assert_eq!((p.hint(), p.is_usage()), (None, false));
    }
}
