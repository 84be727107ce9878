//! Running child processes so that every failure names the exact command line.

use std::env;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use anyhow::{Context, Result, bail};

/// The cargo that started us, so that child builds use the same toolchain (rustup overrides,
/// `+nightly`) instead of whatever `cargo` happens to be first on PATH.
pub fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A child that ran and exited non-zero; main exits with the same code so CI sees it.
#[derive(Debug)]
pub struct Failed {
    pub shown: String,
    pub status: ExitStatus,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed ({})", self.shown, self.status)
    }
}

impl std::error::Error for Failed {}

/// Runs with inherited stdio; fails with the command line if it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    step!("$ {shown}");
    let status = cmd.status().with_context(|| not_started(cmd, &shown))?;
    if !status.success() {
        return Err(Failed { shown, status }.into());
    }
    Ok(())
}

/// Captures stdout and stderr (for probes such as `--version`); does not check the exit code.
pub fn capture(cmd: &mut Command) -> Result<Output> {
    let shown = display(cmd);
    cmd.output().with_context(|| not_started(cmd, &shown))
}

/// Captures stdout as text and fails if the command exits non-zero.
pub fn stdout(cmd: &mut Command) -> Result<String> {
    let shown = display(cmd);
    let out = capture(cmd)?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// First match of `program` in PATH, the way a shell would find it.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn not_started(cmd: &Command, shown: &str) -> String {
    let program = cmd.get_program().to_string_lossy();
    format!("could not start `{shown}`: is `{program}` installed and on PATH?")
}

/// The command as a shell line (env overrides and working directory included) that a user can
/// copy to rerun it by hand.
pub fn display(cmd: &Command) -> String {
    let mut parts = Vec::new();
    if let Some(dir) = cmd.get_current_dir() {
        parts.push(format!("cd {} &&", quote(dir.as_os_str())));
    }
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            parts.push(format!("{}={}", key.to_string_lossy(), quote(value)));
        }
    }
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(arg: &OsStr) -> String {
    let text = arg.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%".contains(c));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let mut cmd = Command::new("node");
        cmd.args(["--test", "a b.mjs"])
            .env("PRUNEPLAY_URL", "http://127.0.0.1:1/");
        assert_eq!(
            display(&cmd),
            "PRUNEPLAY_URL=http://127.0.0.1:1/ node --test 'a b.mjs'"
        );
    }
}
