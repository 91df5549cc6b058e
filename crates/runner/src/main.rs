//! The `depthlab` command line: parse, validate into a plan, call the library, map errors to
//! a one-line message and an exit code (2 for the user's input, 1 for anything else).

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
            eprintln!("depthlab: {message}");
            ExitCode::from(code)
        }
    }
}
