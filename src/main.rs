//! Entry point: parse arguments, run, report failure on one line.

use clap::Parser;

use chat::cli::Cli;
use chat::exit_codes::ExitCode;

fn main() -> std::process::ExitCode {
    // Usage errors, --help and --version exit here, with clap's codes.
    let cli = Cli::parse();
    match chat::run(cli) {
        Ok(()) => ExitCode::Success.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::Failure.into()
        }
    }
}
