//! Go `flag`-package command lines (`-name=value`, `-name value`) turned into the double-dash
//! form clap parses.

use std::ffi::OsString;

/// Rewrites `-name...` to `--name...`; anything after a bare `--` stays as it is. A one-letter
/// `-x` is rewritten only when `is_declared_long("x")` (klog's `-v 3`), so short flags such as
/// `-h` keep working. The argument after a flag without `=` is its value, unless the flag is a
/// boolean (`-docker_only -port 8080` is two flags, as in Go).
pub(super) fn double_dash_long_flags(
    args: Vec<OsString>,
    is_declared_long: impl Fn(&str) -> bool,
    is_bool: impl Fn(&str) -> bool,
) -> Vec<OsString> {
    let takes_value = |flag: &str| {
        let name = flag.trim_start_matches('-');
        let name = name.strip_prefix("no-").unwrap_or(name);
        !flag.contains('=') && !is_bool(name)
    };
    let mut rewritten = Vec::with_capacity(args.len());
    let mut expecting_value = false;
    let mut done = false;
    for (index, arg) in args.into_iter().enumerate() {
        let Some(text) = arg.to_str() else {
            rewritten.push(arg);
            continue;
        };
        if index == 0 || done || expecting_value {
            expecting_value = false;
            rewritten.push(arg);
            continue;
        }
        if text == "--" {
            done = true;
            rewritten.push(arg);
            continue;
        }
        let single_dash_long = match text.strip_prefix('-') {
            Some(name) if name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) => {
                name.len() > 1 || is_declared_long(name)
            }
            _ => false,
        };
        if single_dash_long {
            expecting_value = takes_value(text);
            rewritten.push(OsString::from(format!("-{text}")));
        } else {
            expecting_value = text.starts_with("--") && takes_value(text);
            rewritten.push(arg);
        }
    }
    rewritten
}
