//! `ebc`: inspect, verify and sign external contract code from the command line.

use std::process::ExitCode;

#[path = "ebc/call.rs"]
mod call;

use clap::{Parser, Subcommand, ValueEnum};
use ebc::codec::{decode_hex, to_hex};
use ebc::signing::{Publisher, Scheme, Signature, sign};
use ebc::source::store::open_store;
use ebc::source::transfer;
use ebc::verify::Fork;
use ebc::{Address, B256, Config, ExternalBytecode, LoadOptions, Manager, SecurityLevel, TrustLevel};

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
    /// destinations, capabilities and findings.
    Inspect(LoadArgs),
    /// As inspect, ending with the verdict; exits 1 when the code is rejected.
    Verify(LoadArgs),
    /// Sign the code at a URI: prints the signature and the signer.
    Sign(SignArgs),
    /// Execute a call against external code through revm and print the
    /// status, output, gas used, logs and state changes.
    Call(call::CallArgs),
    /// Make a new random secret key for `ebc sign`, and print its public identity.
    Keygen {
        /// Signature scheme.
        #[arg(long, value_enum, default_value_t = SchemeArg::Ed25519)]
        scheme: SchemeArg,
    },
    /// Import a corpus (a directory with INDEX.tsv) or a directory of
    /// 0x<address>.hex / .bin files into a code store; load from it with
    /// `sqlite:<path>` or the postgres:// URL and the address.
    Import(ImportArgs),
    /// Write every address of a code store to a directory as 0x<address>.bin.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The corpus or directory to read.
    dir: std::path::PathBuf,
    /// The store: a SQLite file (created when missing; `sqlite:<path>` or
    /// a plain path) or postgres://user@host:port/database.
    #[arg(long)]
    store: String,
    /// Largest accepted code size in bytes.
    #[arg(long, default_value_t = ebc::config::EIP170_MAX_CODE_SIZE)]
    max_size: usize,
    /// Time limit for connecting to a database server, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Store each code compressed: gzip, zstd or lz4 (loads decompress it).
    #[arg(long, value_enum, default_value_t = CompressArg::None)]
    compress: CompressArg,
    /// Sign each code as a publisher, with the 32-byte secret key in hex in
    /// this file (as `ebc sign`); loads at Strict accept it from a store
    /// when the publisher is trusted.
    #[arg(long)]
    sign_key_file: Option<std::path::PathBuf>,
    /// Signature scheme, with --sign-key-file.
    #[arg(long, value_enum, default_value_t = SchemeArg::Ed25519)]
    scheme: SchemeArg,
    /// A version label signed together with each code hash.
    #[arg(long, default_value = "")]
    sig_version: String,
}

/// `--compress` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CompressArg {
    None,
    Gzip,
    Zstd,
    Lz4,
}

impl From<CompressArg> for ebc::Compression {
    fn from(arg: CompressArg) -> ebc::Compression {
        match arg {
            CompressArg::None => ebc::Compression::None,
            CompressArg::Gzip => ebc::Compression::Gzip,
            CompressArg::Zstd => ebc::Compression::Zstd,
            CompressArg::Lz4 => ebc::Compression::Lz4,
        }
    }
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The store to read (as for import).
    #[arg(long)]
    store: String,
    /// The directory to write (created when missing).
    dir: std::path::PathBuf,
}

#[derive(clap::Args)]
struct LoadArgs {
    /// Where the code is: a path, file:..., ipfs://<cid>, car:<file>, …;
    /// `#<Name>` picks a contract from a compiler artifact.
    uri: String,
    /// The account the code belongs to (a cache key here).
    #[arg(long, default_value = "0x0000000000000000000000000000000000000000")]
    address: Address,
    /// Security level to verify at.
    #[arg(long, value_enum, default_value_t = Level::Standard)]
    level: Level,
    /// Hardfork whose instruction set applies (frontier ... osaka).
    #[arg(long, default_value = "osaka", value_parser = parse_fork)]
    fork: Fork,
    /// Largest accepted code size in bytes.
    #[arg(long, default_value_t = ebc::config::EIP170_MAX_CODE_SIZE)]
    max_size: usize,
    /// Fail unless the code's keccak256 is this (0x + 64 hex digits).
    #[arg(long)]
    expect_hash: Option<B256>,
    /// A publisher's signature over the code hash (hex).
    #[arg(long)]
    signature: Option<String>,
    /// The signature's scheme.
    #[arg(long, value_enum, default_value_t = SchemeArg::Ed25519)]
    scheme: SchemeArg,
    /// The version label that was signed with the code hash.
    #[arg(long, default_value = "")]
    sig_version: String,
    /// Trust this Ed25519 public key (hex, 32 bytes); repeatable.
    #[arg(long)]
    trust_ed25519: Vec<String>,
    /// Trust EIP-191 signatures by this Ethereum address; repeatable.
    #[arg(long)]
    trust_address: Vec<Address>,
    /// A trustless IPFS gateway for ipfs:// URIs (http(s) base URL);
    /// repeatable, tried in order.
    #[arg(long)]
    ipfs_gateway: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SignArgs {
    /// Where the code is.
    uri: String,
    /// A file holding the 32-byte secret key in hex.
    #[arg(long)]
    key_file: std::path::PathBuf,
    /// Signature scheme.
    #[arg(long, value_enum, default_value_t = SchemeArg::Ed25519)]
    scheme: SchemeArg,
    /// A version label signed together with the code hash.
    #[arg(long, default_value = "")]
    sig_version: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Level {
    None,
    Basic,
    Standard,
    Strict,
    Paranoid,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    Ed25519,
    Secp256k1,
}

impl From<SchemeArg> for Scheme {
    fn from(s: SchemeArg) -> Scheme {
        match s {
            SchemeArg::Ed25519 => Scheme::Ed25519,
            SchemeArg::Secp256k1 => Scheme::Secp256k1Eip191,
        }
    }
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

fn parse_fork(name: &str) -> Result<Fork, String> {
    Fork::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Fork::ALL.iter().map(|f| f.name()).collect();
        format!("unknown fork {name:?}; one of {}", names.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => load_and_report(&args, false),
        Command::Verify(args) => load_and_report(&args, true),
        Command::Sign(args) => sign_code(&args),
        Command::Keygen { scheme } => keygen(scheme.into()),
        Command::Call(args) => match call::run(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(2),
            Err(e) => Err(e),
        },
        Command::Import(args) => import(&args),
        Command::Export(args) => export(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ebc: {} ({})", e, e.status().name());
            ExitCode::from(1)
        }
    }
}

fn hex_bytes<const N: usize>(text: &str, what: &str) -> ebc::Result<[u8; N]> {
    decode_hex(text.as_bytes(), what)?
        .try_into()
        .map_err(|_| ebc::Error::InvalidArgument(format!("{what} must be {N} bytes")))
}

fn manager_for(args: &LoadArgs) -> ebc::Result<Manager> {
    let config = Config {
        security_level: args.level.into(),
        fork: args.fork,
        max_contract_size: args.max_size,
        ipfs_gateways: args.ipfs_gateway.clone(),
        ..Config::development()
    };
    let manager = Manager::new(config)?;
    let publisher = || Publisher { name: "command line".into(), trust: TrustLevel::FullyTrusted };
    for key in &args.trust_ed25519 {
        manager.trust_ed25519(hex_bytes(key, "--trust-ed25519")?, publisher())?;
    }
    for address in &args.trust_address {
        manager.trust_ethereum(*address, publisher());
    }
    Ok(manager)
}

fn load_and_report(args: &LoadArgs, verdict: bool) -> ebc::Result<()> {
    let manager = manager_for(args)?;
    let signature = match &args.signature {
        Some(hex) => Some(Signature {
            scheme: args.scheme.into(),
            bytes: decode_hex(hex.as_bytes(), "--signature")?,
            version: args.sig_version.clone(),
        }),
        None => None,
    };
    let options = LoadOptions { expected_code_hash: args.expect_hash, signature, ..LoadOptions::default() };
    match manager.load(&args.address, Some(&args.uri), &options) {
        Ok(code) if args.json => println!("{}", to_json(&code, verdict)),
        Ok(code) => print_text(&code, verdict),
        Err(e) if verdict && args.json => {
            println!(
                "{{\"source\":{},\"verdict\":\"rejected\",\"status\":\"{}\",\"error\":{}}}",
                json_string(&args.uri),
                e.status().name(),
                json_string(&e.to_string())
            );
            return Err(e);
        }
        Err(e) if verdict => {
            println!("source       {}", args.uri);
            println!("verdict      rejected: {e}");
            return Err(e);
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The 32-byte secret key, in hex, in the file at `path`.
fn read_secret_key(path: &std::path::Path) -> ebc::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(|e| ebc::Error::io(format!("reading {}", path.display()), &e))?;
    hex_bytes(text.trim(), "the secret key")
}

fn sign_code(args: &SignArgs) -> ebc::Result<()> {
    let secret = read_secret_key(&args.key_file)?;
    let manager = Manager::new(Config { security_level: SecurityLevel::None, ..Config::development() })?;
    let code = manager.load(&Address::ZERO, Some(&args.uri), &LoadOptions::default())?;
    let (signature, signer) = sign(args.scheme.into(), &secret, &code.code_hash(), &args.sig_version)?;
    println!("scheme       {}", signature.scheme.name());
    println!("signer       {signer}");
    println!("code hash    {}", code.code_hash());
    println!("version      {}", signature.version);
    println!("signature    0x{}", to_hex(&signature.bytes));
    Ok(())
}

fn keygen(scheme: Scheme) -> ebc::Result<()> {
    let mut secret = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").map_err(|e| ebc::Error::io("opening /dev/urandom", &e))?;
    std::io::Read::read_exact(&mut urandom, &mut secret).map_err(|e| ebc::Error::io("reading /dev/urandom", &e))?;
    let identity = ebc::signing::identity(scheme, &secret)?;
    println!("scheme       {}", scheme.name());
    println!("secret       {}", to_hex(&secret));
    println!("public       0x{}", to_hex(&identity));
    Ok(())
}

/// A one-line progress bar on standard error: redrawn in place on a
/// terminal, else a line per tenth, so logs stay readable. (Twenty lines
/// of our own rather than a crate for a line of text.)
struct Progress {
    what: &'static str,
    terminal: bool,
    last_tenth: usize,
}

impl Progress {
    fn new(what: &'static str) -> Progress {
        Progress { what, terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()), last_tenth: 0 }
    }

    fn update(&mut self, done: usize, total: usize) {
        let total = total.max(1);
        let tenth = done * 10 / total;
        if self.terminal {
            let filled = done * 30 / total;
            eprint!("\r{} [{}{}] {done}/{total}", self.what, "#".repeat(filled), ".".repeat(30 - filled));
            if done >= total {
                eprintln!();
            }
        } else if tenth > self.last_tenth || done >= total {
            eprintln!("{} {done}/{total}", self.what);
        }
        self.last_tenth = tenth;
    }
}

fn import(args: &ImportArgs) -> ebc::Result<()> {
    let items = transfer::scan(&args.dir)?;
    let store = open_store(&args.store, true, args.timeout_ms)?;
    let mut progress = Progress::new("importing");
    let secret = args.sign_key_file.as_deref().map(read_secret_key).transpose()?;
    let options = transfer::ImportOptions {
        max_code_size: args.max_size,
        compression: args.compress.into(),
        signer: secret.as_ref().map(|secret| (args.scheme.into(), secret, args.sig_version.as_str())),
    };
    let report = transfer::import_with(&*store, &items, &options, &mut |done, total| progress.update(done, total))?;
    println!("imported     {} addresses, {} bytes of code", report.addresses, report.bytes);
    println!("stored       {} bytes ({})", report.stored_bytes, ebc::codec::compression::name(args.compress.into()));
    println!("store        {} ({} addresses)", store.uri(), store.len()?);
    Ok(())
}

fn export(args: &ExportArgs) -> ebc::Result<()> {
    let store = open_store(&args.store, false, 10_000)?;
    let mut progress = Progress::new("exporting");
    let report = transfer::export(&*store, &args.dir, &mut |done, total| progress.update(done, total))?;
    println!("exported     {} addresses, {} bytes of code", report.addresses, report.bytes);
    println!("directory    {}", args.dir.display());
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

fn trailer_name(code: &ExternalBytecode) -> String {
    match &code.inspection().trailer {
        None => "none".into(),
        Some(t) => format!(
            "{:?} {} at {}{}",
            t.compiler,
            t.version.as_deref().unwrap_or("(no version)"),
            t.start,
            t.source_hash.map_or(String::new(), |h| format!(", {h} source hash"))
        ),
    }
}

fn print_text(code: &ExternalBytecode, verdict: bool) {
    let inspection = code.inspection();
    println!("source       {}", code.metadata().source_uri);
    println!("address      {}", code.address());
    println!("size         {} bytes", code.code().len());
    println!("code hash    {}", code.code_hash());
    println!("sha256       0x{}", to_hex(&code.sha256()));
    println!("kind         {}", kind_name(code));
    println!("jumpdests    {}", code.jumpdest_count());
    println!("metadata     {}", trailer_name(code));
    println!("blocks       {} ({} reachable)", inspection.blocks, inspection.reachable_blocks);
    println!("capabilities {}", inspection.capabilities.names().join(", "));
    println!("level        {}", code.security().level.name());
    println!("trust        {}", code.security().trust.name());
    println!("status       {}", status_name(code));
    println!("findings     {}", code.findings().len() + inspection.suppressed_findings);
    for f in code.findings() {
        println!("  {:>6}  {:<24} {}", f.offset, f.kind.name(), f.message);
    }
    if verdict {
        println!("verdict      accepted");
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

fn to_json(code: &ExternalBytecode, verdict: bool) -> String {
    let inspection = code.inspection();
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
    let capabilities: Vec<String> = inspection.capabilities.names().iter().map(|n| json_string(n)).collect();
    format!(
        "{{\"source\":{},\"address\":\"{}\",\"size\":{},\"code_hash\":\"{}\",\"sha256\":\"0x{}\",\
         \"kind\":{},\"jumpdests\":{},\"metadata\":{},\"blocks\":{},\"reachable_blocks\":{},\
         \"capabilities\":[{}],\"level\":\"{}\",\"trust\":\"{}\",\"status\":\"{}\",\
         \"findings\":[{}],\"suppressed_findings\":{}{}}}",
        json_string(&code.metadata().source_uri),
        code.address(),
        code.code().len(),
        code.code_hash(),
        to_hex(&code.sha256()),
        json_string(&kind_name(code)),
        code.jumpdest_count(),
        json_string(&trailer_name(code)),
        inspection.blocks,
        inspection.reachable_blocks,
        capabilities.join(","),
        code.security().level.name(),
        code.security().trust.name(),
        status_name(code),
        findings.join(","),
        inspection.suppressed_findings,
        if verdict { ",\"verdict\":\"accepted\"" } else { "" }
    )
}
