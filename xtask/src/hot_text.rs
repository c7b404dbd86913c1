//! `cargo xtask hot-text`: records which functions octo-node-exporter runs while it starts and
//! answers scrapes with upstream's default collectors, and writes them as the linker script
//! `exporters/node/hot-text.ld`, which the node exporter's build script hands to the linker for
//! optimised builds (see `exporters/node/build.rs` for why).
//!
//! The recording is valgrind's callgrind (every function that runs, not a sample of them) of the
//! shipped build, unstripped. Rust symbol names carry hashes that change with versions, flags
//! and toolchains, so the script names functions by section-name patterns with the hashes
//! replaced by `*`; C functions from the static C library are named by their archive member.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_testbed::{ExporterProcess, require_program};

use crate::bench::scrape::{SCRAPE_CLIENT_TIMEOUT, client, scrape};
use crate::workspace::{cargo, workspace_root};

const TARGET_TRIPLE: &str = "x86_64-unknown-linux-gnu";

pub async fn run(scrapes: usize) -> anyhow::Result<()> {
    let valgrind = require_program("valgrind", "valgrind")?;
    let binary = build_unstripped()?;
    let recording = octo_testbed::temp_dir("octo-hot-text-")?;
    let profile = recording.path().join("callgrind.out");
    let args = vec![
        "--tool=callgrind".to_owned(),
        "--dump-instr=no".to_owned(),
        "--demangle=no".to_owned(),
        format!("--callgrind-out-file={}", profile.display()),
        binary.display().to_string(),
    ];
    // Upstream's default collectors and log level, as most hosts run them.
    println!("hot-text: recording start-up and {scrapes} scrapes under callgrind...");
    let mut exporter = ExporterProcess::start(
        "octo-node-exporter (callgrind)",
        &valgrind,
        &args,
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .context("starting octo-node-exporter under valgrind")?;
    let http = client(SCRAPE_CLIENT_TIMEOUT)?;
    let url = exporter.url("/metrics");
    for _ in 0..scrapes {
        scrape(&http, &url, true).await?;
    }
    // Callgrind writes its profile when the program exits: let it shut down by itself.
    exporter.service().signal(nix::sys::signal::Signal::SIGTERM);
    if exporter
        .service()
        .wait_exit(Duration::from_secs(60))
        .is_none()
    {
        bail!("octo-node-exporter did not exit under valgrind");
    }
    let text = std::fs::read_to_string(&profile)
        .with_context(|| format!("reading {}", profile.display()))?;
    let functions = executed_functions(&text);
    let members = c_library_members()?;
    let script = linker_script(&functions, &members);
    let out = workspace_root().join("exporters/node/hot-text.ld");
    std::fs::write(&out, script).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "hot-text: {} functions ran; wrote {}",
        functions.len(),
        out.display()
    );
    Ok(())
}

/// The node exporter as the benchmarks build it, with its symbols kept, in a target directory
/// of its own (the benchmarks' stripped binary stays as it is).
fn build_unstripped() -> anyhow::Result<PathBuf> {
    let target_dir = crate::workspace::target_dir().join("hot-text");
    println!("hot-text: building octo-node-exporter (profile small, static, with symbols)...");
    let status = cargo()
        .args([
            "build",
            "--quiet",
            "--profile",
            "small",
            "--target",
            TARGET_TRIPLE,
        ])
        .args(["-p", "octo-node-exporter", "--bin", "octo-node-exporter"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_PROFILE_SMALL_STRIP", "false")
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building octo-node-exporter failed");
    }
    Ok(target_dir
        .join(TARGET_TRIPLE)
        .join("small")
        .join("octo-node-exporter"))
}

/// The names of the functions in a callgrind profile, in the order they first appear (callgrind
/// writes each name once, `fn=(id) name` or `cfn=(id) name`, and the id alone afterwards).
fn executed_functions(profile: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    for line in profile.lines() {
        let Some(rest) = line
            .strip_prefix("fn=(")
            .or_else(|| line.strip_prefix("cfn=("))
        else {
            continue;
        };
        let Some((_, name)) = rest.split_once(") ") else {
            continue;
        };
        let name = name.trim();
        // Functions without a symbol are reported by address.
        if !name.is_empty() && !name.starts_with("0x") && seen.insert(name.to_owned()) {
            names.push(name.to_owned());
        }
    }
    names
}

/// A Rust symbol as a section-name pattern that holds across rebuilds: the legacy mangling's
/// trailing hash (`17h<16 hex digits>E`) and the v0 mangling's crate disambiguators
/// (`Cs<base-62>_`) become `*`. None for names that are not Rust's.
fn rust_pattern(symbol: &str) -> Option<String> {
    // Functions LTO made local carry a numbered suffix (`.2841`) that changes between builds.
    let (symbol, local) = match symbol.rsplit_once('.') {
        Some((name, number))
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (name, true)
        }
        _ => (symbol, false),
    };
    let pattern = rust_pattern_of(symbol)?;
    Some(if local {
        format!("{pattern}.*")
    } else {
        pattern
    })
}

fn rust_pattern_of(symbol: &str) -> Option<String> {
    if let Some(body) = symbol.strip_prefix("_ZN") {
        let without_hash = match body.len().checked_sub(20) {
            Some(at)
                if body.ends_with('E')
                    && body[at..].starts_with("17h")
                    && body[at + 3..body.len() - 1]
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit()) =>
            {
                format!("_ZN{}17h*E", &body[..at])
            }
            _ => symbol.to_owned(),
        };
        return Some(without_hash);
    }
    if symbol.starts_with("_R") {
        let mut pattern = String::with_capacity(symbol.len());
        let mut rest = symbol;
        while let Some(at) = rest.find("Cs") {
            pattern.push_str(&rest[..at + 2]);
            let after = &rest[at + 2..];
            let digits = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if after[digits..].starts_with('_') {
                pattern.push('*');
                rest = &after[digits..];
            } else {
                rest = after;
            }
        }
        pattern.push_str(rest);
        return Some(pattern);
    }
    None
}

/// Which member of which static C archive (`libc.a`, `libm.a`, libgcc's) defines each of their
/// functions, as `archive:member` patterns.
fn c_library_members() -> anyhow::Result<HashMap<String, String>> {
    let mut members = HashMap::new();
    for query in [
        "-print-file-name=libc.a",
        "-print-file-name=libm.a",
        "-print-libgcc-file-name",
    ] {
        let output = Command::new("cc")
            .arg(query)
            .output()
            .with_context(|| format!("running cc {query}"))?;
        let archive = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if !archive.is_absolute() {
            bail!("cc {query}: not found (apt-get install libc6-dev gcc)");
        }
        let output = Command::new("nm")
            .args(["-A", "--defined-only"])
            .arg(&archive)
            .output()
            .with_context(|| format!("running nm on {}", archive.display()))?;
        let name = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (symbol, member) in members_from_nm(&String::from_utf8_lossy(&output.stdout)) {
            members
                .entry(symbol)
                .or_insert_with(|| format!("{name}:{member}"));
        }
    }
    Ok(members)
}

/// `nm -A` lines (`/path/libc.a:member.o:0000000000000000 T name`) as name -> member.
fn members_from_nm(listing: &str) -> HashMap<String, String> {
    let mut members = HashMap::new();
    for line in listing.lines() {
        let mut fields = line.split_whitespace();
        let (Some(location), Some(kind), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !matches!(kind, "T" | "t" | "W" | "i") {
            continue;
        }
        let mut parts = location.rsplitn(3, ':');
        let (_address, Some(member)) = (parts.next(), parts.next()) else {
            continue;
        };
        members
            .entry(name.to_owned())
            .or_insert_with(|| member.to_owned());
    }
    members
}

/// The linker script: one output section, before `.text`, gathering the executed functions in
/// the order they first ran.
fn linker_script(functions: &[String], c_members: &HashMap<String, String>) -> String {
    let mut script = String::from(
        "/* Generated by `cargo xtask hot-text`: the functions octo-node-exporter runs while it\n   \
         starts and answers scrapes with upstream's default collectors, placed ahead of the rest\n   \
         of the code so that they share as few pages as possible (exporters/node/build.rs). */\n\
         SECTIONS {\n  .text.hot : {\n",
    );
    let mut written = HashSet::new();
    for function in functions {
        let line = match rust_pattern(function) {
            // LLVM puts functions it deems cold (`main`, run once) in `.text.unlikely.*`.
            Some(pattern) => format!("    *(.text.{pattern} .text.unlikely.{pattern})\n"),
            None => match c_members.get(function) {
                Some(member) => format!("    *{member}(.text .text.*)\n"),
                // Our own C-level symbols, such as the `main` rustc writes (callgrind's own
                // entries, such as "(below main)", are no symbols).
                None if function
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    format!("    *(.text.{function})\n")
                }
                None => continue,
            },
        };
        if written.insert(line.clone()) {
            script.push_str(&line);
        }
    }
    let _ = write!(script, "  }}\n}}\nINSERT BEFORE .text;\n");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_hashes_become_wildcards() {
        assert_eq!(
            rust_pattern("_ZN18octo_node_exporter4main17h2cef741c3cec4627E").as_deref(),
            Some("_ZN18octo_node_exporter4main17h*E")
        );
        // Not a hash: left as it is.
        assert_eq!(
            rust_pattern("_ZN4core3fmt5write17hnothexatallxxxE").as_deref(),
            Some("_ZN4core3fmt5write17hnothexatallxxxE")
        );
    }

    #[test]
    fn v0_crate_disambiguators_become_wildcards() {
        assert_eq!(
            rust_pattern("_RNvMsa_NtCsgEmfK2I1SDS_4core3fmtNtB5_9Formatter12pad_integral")
                .as_deref(),
            Some("_RNvMsa_NtCs*_4core3fmtNtB5_9Formatter12pad_integral")
        );
        assert_eq!(rust_pattern("memcpy"), None);
        assert_eq!(
            rust_pattern("_RNvXsf_NtCsgEmfK2I1SDS_4core3fmtbNtB5_5Debug3fmt.2841").as_deref(),
            Some("_RNvXsf_NtCs*_4core3fmtbNtB5_5Debug3fmt.*")
        );
    }

    #[test]
    fn callgrind_names_in_first_seen_order() {
        let profile = "fn=(1) main\ncfn=(2) _ZN3foo17h0123456789abcdefE\ncalls=1 0\n\
                       fn=(2)\nfn=(3) 0x0000000000401000\ncfn=(1)\nfn=(4) malloc\n";
        assert_eq!(
            executed_functions(profile),
            vec!["main", "_ZN3foo17h0123456789abcdefE", "malloc"]
        );
    }

    #[test]
    fn script_names_rust_patterns_and_c_library_members() {
        let members: HashMap<String, String> = members_from_nm(
            "/usr/lib/x86_64-linux-gnu/libc.a:malloc.o:0000000000001234 T malloc\n\
             /usr/lib/x86_64-linux-gnu/libc.a:malloc.o:0000000000000000 U abort\n",
        )
        .into_iter()
        .map(|(symbol, member)| (symbol, format!("libc.a:{member}")))
        .collect();
        let functions = vec![
            "_ZN3foo17h0123456789abcdefE".to_owned(),
            "_ZN3foo17hfedcba9876543210E".to_owned(),
            "malloc".to_owned(),
            "main".to_owned(),
            "(below main)".to_owned(),
        ];
        let script = linker_script(&functions, &members);
        let body: Vec<&str> = script
            .lines()
            .filter(|l| l.starts_with("    "))
            .map(str::trim)
            .collect();
        assert_eq!(
            body,
            vec![
                "*(.text._ZN3foo17h*E .text.unlikely._ZN3foo17h*E)",
                "*libc.a:malloc.o(.text .text.*)",
                "*(.text.main)",
            ]
        );
        assert!(script.trim_end().ends_with("INSERT BEFORE .text;"));
    }
}
