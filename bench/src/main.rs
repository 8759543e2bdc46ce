//! `cargo run --release -p bench -- [--quick] [--only SCENARIO[,SCENARIO...]]`: asmkv against
//! nginx's WebDAV module, a tokio/axum Rust peer and the seed sample, side by
//! side in one run on this machine, with wrk as the load (and one timed
//! command: minikeyvalue's `mkv rebuild` of a volume, `mkv.rs`).
//!
//! A scenario is a row of `scenarios::SCENARIOS` (data: its store, its load,
//! its servers, its runs); `run::Bench` runs each on every server.

mod backup;
mod mkv;
mod peer;
mod report;
mod run;
mod scenarios;
mod servers;
mod store;
mod tools;
mod wrk;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmark asmkv against its peers, side by side")]
struct Cli {
    /// A smoke run: short warm-up and measurements, a few seconds per scenario.
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios, comma-separated (see --list).
    #[arg(long)]
    only: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Where results.md and results.png go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the Rust peer server (used by the harness).
    Peer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Skip fdatasync/fsync (like nginx).
        #[arg(long)]
        no_sync: bool,
    },
}

impl Cli {
    /// The command line that reproduces this run, for the report.
    fn command(&self) -> String {
        format!(
            "cargo run --release -p bench --{}{}",
            if self.quick { " --quick" } else { "" },
            self.only
                .as_ref()
                .map(|o| format!(" --only {o}"))
                .unwrap_or_default()
        )
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Peer {
        listen,
        data,
        threads,
        no_sync,
    }) = cli.cmd
    {
        return peer::run(listen, data, threads, !no_sync);
    }
    if cli.list {
        scenarios::print_list();
        return Ok(());
    }
    let selected = scenarios::select(cli.only.as_deref())?;
    let bench = run::Bench::new(cli.quick)?;
    let machine = tools::machine();
    bench.announce(&machine);
    let (rows, leftovers) = bench.run_all(&selected);
    drop(leftovers);
    let sizes = bench.sizes()?;
    let header = bench.header(&machine, &cli.command());
    report::write(&cli.out, &rows, &sizes, &header, &machine)
}
