//! Runs the wrapped command: its exit code becomes idp's, and SIGINT, SIGTERM and SIGHUP
//! sent to idp are passed on to it.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use tokio::signal::unix::{SignalKind, signal};

/// What to run and with what environment.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variables set for the command (over the inherited environment).
    pub set: Vec<(String, String)>,
    /// Inherited variables the command must not see.
    pub remove: Vec<String>,
    /// Whether to pass SIGINT on. From a terminal, Ctrl-C already reaches the command (it
    /// is in idp's foreground process group), and a second SIGINT makes tools such as
    /// Terraform abort without cleaning up.
    pub forward_sigint: bool,
}

/// The command's exit code as a shell reports it: its own, or 128 + the signal that ended it.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Spawns the command and waits for it, passing signals on.
pub async fn run(spec: &Spec) -> std::io::Result<ExitStatus> {
    let mut command = tokio::process::Command::new(&spec.program);
    command.args(&spec.args);
    for name in &spec.remove {
        command.env_remove(name);
    }
    command.envs(spec.set.iter().map(|(k, v)| (k, v)));
    // Handlers first: a signal between spawn and wait must not kill idp before the
    // command, leaving the private folder behind.
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut child = command.spawn()?;
    let pid = child.id().map(|p| Pid::from_raw(p as i32));
    let pass = |sig: Signal| {
        if let Some(pid) = pid {
            let _ = kill(pid, sig);
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => return status,
            _ = int.recv() => if spec.forward_sigint { pass(Signal::SIGINT) },
            _ = term.recv() => pass(Signal::SIGTERM),
            _ = hup.recv() => pass(Signal::SIGHUP),
        }
    }
}
