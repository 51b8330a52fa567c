//! What the user reads after an error besides the message: what to do, and whether the
//! fault is their input (exit 2) or an operation that failed (exit 1). Each error type of
//! idp's crates answers for itself, beside its definition; the binary only asks.

/// An error that knows what to tell the user.
pub trait Diagnostic: std::error::Error {
    /// What to do about it, when there is something to say.
    fn hint(&self) -> Option<String>;
    /// Whether the user's input or configuration is at fault (exit 2), rather than an
    /// operation that failed (exit 1).
    fn is_usage(&self) -> bool;
}
