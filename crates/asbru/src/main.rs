//! The `asbru` command: `asbru serve` runs the gateway, `asbru config check` validates a config.

mod check;
mod cli;
mod reload;
mod serve;

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Serve(args) => serve::run(*args),
        cli::Command::Config {
            command: cli::ConfigCommand::Check { file },
        } => check::run(&file),
        cli::Command::Config {
            command: cli::ConfigCommand::Schema,
        } => check::print_schema(),
    }
}
