//! `asbru-bench`: helpers for `bench/run.sh`.
//!
//! * `asbru-bench free-port` prints a free TCP port on 127.0.0.1.
//! * `asbru-bench report --input results.jsonl [--date …]` prints the markdown report built
//!   from the JSON lines written by `asbru-loadgen`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use asbru_bench::report::{self, Meta};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "asbru-bench",
    about = "Helpers for the asbru benchmark (bench/run.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a TCP port that is free on 127.0.0.1 right now.
    FreePort,
    /// Render the markdown report from asbru-loadgen's JSON lines.
    Report {
        /// File of JSON lines (one per run).
        #[arg(long)]
        input: PathBuf,
        /// Date of the run, as it should appear.
        #[arg(long, default_value = "")]
        date: String,
        /// Git revision of asbru that was measured.
        #[arg(long, default_value = "")]
        git: String,
        /// nginx version string.
        #[arg(long, default_value = "")]
        nginx: String,
        /// How processes were placed on CPUs.
        #[arg(long, default_value = "")]
        placement: String,
        /// Number of CPUs (`nproc`); read from the machine when empty.
        #[arg(long, default_value = "")]
        nproc: String,
        /// Extra bullet lines for the header.
        #[arg(long)]
        note: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let text = match cli.command {
        Command::FreePort => {
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
            format!("{}\n", listener.local_addr()?.port())
        }
        Command::Report {
            input,
            date,
            git,
            nginx,
            placement,
            nproc,
            note,
        } => {
            let data = std::fs::read_to_string(&input)
                .with_context(|| format!("read {}", input.display()))?;
            let records = report::parse_records(&data);
            let mut meta = Meta {
                date,
                git,
                nginx,
                placement,
                nproc,
                notes: note,
                ..Meta::default()
            };
            meta.fill_from_proc();
            report::render(&meta, &records)?
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
