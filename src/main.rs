//! Entry point: parse arguments, run, report failure on one line.

use clap::Parser;

use chat::cli::Cli;
use chat::exit_codes::{ExitCode, Shown};

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse().and_then(Cli::checked) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` arrive here too, as successes.
            let _ = e.print();
            let code = if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Success
            };
            return code.into();
        }
    };
    match chat::run(cli) {
        Ok(()) => ExitCode::Success.into(),
        Err(e) => {
            if !e.is::<Shown>() {
                // One line, whatever a peer or a server put in it: its
                // control characters (escape codes, line breaks) escaped.
                let line: String = format!("{e:#}")
                    .chars()
                    .flat_map(|c| match c.is_control() {
                        true => c.escape_debug().collect::<Vec<_>>(),
                        false => vec![c],
                    })
                    .collect();
                eprintln!("error: {line}");
            }
            ExitCode::Failure.into()
        }
    }
}
