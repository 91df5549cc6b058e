//! The `depthlab` command line: parse, validate into a plan, call the library, map errors to
//! a one-line message and an exit code (2 for the user's input, 1 for anything else).
//!
//! A closed stdout (`depthlab datasets | head -1`) ends the command quietly with exit code 0,
//! as ripgrep does: the reader has what it wanted. A closed stderr is ignored, so a study whose
//! progress nobody reads still runs to its end.

mod cli;
mod progress;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    match cli::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.downcast_ref::<progress::StdoutClosed>().is_some() => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<cli::BadInput>().is_some() {
                2
            } else {
                1
            };
            // One line, whatever the error chain holds.
            let message = cli::describe(&e)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            progress::note(format_args!("depthlab: {message}"));
            ExitCode::from(code)
        }
    }
}
