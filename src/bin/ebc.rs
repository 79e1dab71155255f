//! `ebc`: inspect and verify external contract code from the command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ebc::codec::to_hex;
use ebc::{Address, Config, ExternalBytecode, LoadOptions, Manager, SecurityLevel};

/// External bytecode management for EVMs.
#[derive(Parser)]
#[command(name = "ebc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load code from a URI, verify it and print its hashes, size, jump
    /// destinations and findings.
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct InspectArgs {
    /// Where the code is: a path, file:..., mem:..., or any registered scheme.
    uri: String,
    /// The account the code belongs to (only a cache key for inspect).
    #[arg(long, default_value = "0x0000000000000000000000000000000000000000")]
    address: Address,
    /// Security level to verify at.
    #[arg(long, value_enum, default_value_t = Level::Standard)]
    level: Level,
    /// Largest accepted code size in bytes.
    #[arg(long, default_value_t = ebc::config::EIP170_MAX_CODE_SIZE)]
    max_size: usize,
    /// Fail unless the code's keccak256 is this (0x + 64 hex digits).
    #[arg(long)]
    expect_hash: Option<ebc::B256>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Level {
    None,
    Basic,
    Standard,
    Strict,
    Paranoid,
}

impl From<Level> for SecurityLevel {
    fn from(level: Level) -> SecurityLevel {
        match level {
            Level::None => SecurityLevel::None,
            Level::Basic => SecurityLevel::Basic,
            Level::Standard => SecurityLevel::Standard,
            Level::Strict => SecurityLevel::Strict,
            Level::Paranoid => SecurityLevel::Paranoid,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ebc: {} ({})", e, e.status().name());
            ExitCode::from(1)
        }
    }
}

fn inspect(args: &InspectArgs) -> ebc::Result<()> {
    let config = Config {
        security_level: args.level.into(),
        max_contract_size: args.max_size,
        ..Config::development()
    };
    let manager = Manager::new(config)?;
    let options = LoadOptions { expected_code_hash: args.expect_hash, ..LoadOptions::default() };
    let code = manager.load(&args.address, Some(&args.uri), &options)?;
    if args.json {
        println!("{}", to_json(&code));
    } else {
        print_text(&code);
    }
    Ok(())
}

fn kind_name(code: &ExternalBytecode) -> String {
    match code.kind() {
        ebc::CodeKind::Legacy => "legacy".into(),
        ebc::CodeKind::Delegation(to) => format!("eip7702-delegation to {to}"),
    }
}

fn status_name(code: &ExternalBytecode) -> &'static str {
    match code.verification_status() {
        ebc::VerificationStatus::Unverified => "unverified",
        ebc::VerificationStatus::Verified => "verified",
        ebc::VerificationStatus::VerifiedWithFindings => "verified-with-findings",
    }
}

fn print_text(code: &ExternalBytecode) {
    println!("source       {}", code.metadata().source_uri);
    println!("address      {}", code.address());
    println!("size         {} bytes", code.code().len());
    println!("code hash    {}", code.code_hash());
    println!("sha256       0x{}", to_hex(&code.sha256()));
    println!("kind         {}", kind_name(code));
    println!("jumpdests    {}", code.jumpdest_count());
    println!("level        {}", code.security().level.name());
    println!("trust        {}", code.security().trust.name());
    println!("verdict      {}", status_name(code));
    println!("findings     {}", code.findings().len());
    for f in code.findings() {
        println!("  {:>6}  {:<18} {}", f.offset, f.kind.name(), f.message);
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn to_json(code: &ExternalBytecode) -> String {
    let findings: Vec<String> = code
        .findings()
        .iter()
        .map(|f| {
            format!(
                "{{\"kind\":{},\"offset\":{},\"message\":{}}}",
                json_string(f.kind.name()),
                f.offset,
                json_string(&f.message)
            )
        })
        .collect();
    format!(
        "{{\"source\":{},\"address\":\"{}\",\"size\":{},\"code_hash\":\"{}\",\"sha256\":\"0x{}\",\
         \"kind\":{},\"jumpdests\":{},\"level\":\"{}\",\"trust\":\"{}\",\"verdict\":\"{}\",\
         \"findings\":[{}]}}",
        json_string(&code.metadata().source_uri),
        code.address(),
        code.code().len(),
        code.code_hash(),
        to_hex(&code.sha256()),
        json_string(&kind_name(code)),
        code.jumpdest_count(),
        code.security().level.name(),
        code.security().trust.name(),
        status_name(code),
        findings.join(",")
    )
}
