//! Command-line flags with the upstream exporters' grammar, on clap.
//!
//! kingpin (node_exporter, mysqld_exporter, nginx-prometheus-exporter 1.x): `--x=v` or `--x v`,
//! booleans as `--x`, `--no-x` or `--x=false`, repeatable flags accumulate, an environment
//! variable bound to a repeatable flag is split on newlines. Go's `flag` package (cAdvisor,
//! nginx-prometheus-exporter 0.11) also accepts a single dash (`-port=8080`); exporters that
//! replace such a program rewrite single-dash long flags to double-dash first, as
//! nginx-prometheus-exporter 1.x does.
//!
//! An unknown or malformed flag is an error with exit status 1, as with kingpin.

use std::ffi::OsString;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// How single-dash long flags (`-web.listen-address=:9113`) are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashStyle {
    /// kingpin: only `--long` flags.
    DoubleOnly,
    /// Go's `flag` package too: `-long` is read as `--long`.
    AcceptSingle,
}

/// A set of flags being declared; [`parse`](Self::parse) turns it into [`Flags`].
#[derive(Debug)]
pub struct FlagSet {
    command: Command,
    bools: Vec<(String, bool)>,
    dash_style: DashStyle,
    heading: Option<String>,
}

/// Why the command line was not accepted, or that it asked for help or the version.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// `--help` or `--version`: print the text and exit 0.
    #[error("{0}")]
    Display(String),
    /// A bad command line: print the text and exit 1.
    #[error("{0}")]
    Invalid(String),
}

impl FlagError {
    /// Prints the message and exits: 0 for help and version, 1 for errors (as kingpin does).
    pub fn exit(&self) -> ! {
        match self {
            FlagError::Display(text) => {
                print!("{text}");
                std::process::exit(0)
            }
            FlagError::Invalid(text) => {
                eprint!("{text}");
                std::process::exit(1)
            }
        }
    }
}

impl FlagSet {
    pub fn new(binary: &'static str, about: &'static str, version: String) -> Self {
        let command = Command::new(binary)
            .about(about)
            .version(version)
            .disable_version_flag(true)
            .arg(
                Arg::new("version")
                    .long("version")
                    .help("Show application version.")
                    .action(ArgAction::Version),
            )
            .disable_help_subcommand(true)
            .args_override_self(true)
            .max_term_width(110);
        FlagSet {
            command,
            bools: Vec::new(),
            dash_style: DashStyle::DoubleOnly,
            heading: None,
        }
    }

    /// Also accept single-dash long flags (Go `flag` grammar).
    pub fn dash_style(mut self, style: DashStyle) -> Self {
        self.dash_style = style;
        self
    }

    /// Groups the flags declared after this call under a heading in `--help`.
    pub fn heading(mut self, heading: impl Into<String>) -> Self {
        self.heading = Some(heading.into());
        self
    }

    fn styled(&self, arg: Arg) -> Arg {
        match &self.heading {
            Some(heading) => arg.help_heading(heading.clone()),
            None => arg,
        }
    }

    /// A boolean flag: `--name`, `--name=false`, and `--no-name`; the last one given wins.
    pub fn bool(self, name: impl Into<String>, default: bool, help: impl Into<String>) -> Self {
        self.bool_with(name, default, help, |arg| arg)
    }

    /// A boolean flag with extra clap settings (an environment variable, aliases, hidden).
    pub fn bool_with(
        mut self,
        name: impl Into<String>,
        default: bool,
        help: impl Into<String>,
        customize: impl FnOnce(Arg) -> Arg,
    ) -> Self {
        let name = name.into();
        let negative = format!("no-{name}");
        let help = format!(
            "{} [default: {}; --{negative} to disable]",
            help.into(),
            if default { "enabled" } else { "disabled" }
        );
        let positive = Arg::new(name.clone())
            .long(name.clone())
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_name("BOOL")
            .value_parser(BoolishValueParser::new())
            .action(ArgAction::Set)
            .overrides_with(negative.clone())
            .help(help);
        let positive = customize(self.styled(positive));
        let negated = Arg::new(negative.clone())
            .long(negative)
            .action(ArgAction::SetTrue)
            .hide(true)
            .overrides_with(name.clone());
        self.command = self.command.arg(positive).arg(negated);
        self.bools.push((name, default));
        self
    }

    /// A flag with one value (`--name=v` or `--name v`); the last one given wins.
    pub fn value(
        self,
        name: impl Into<String>,
        default: Option<&str>,
        help: impl Into<String>,
    ) -> Self {
        self.value_with(name, default, help, |arg| arg)
    }

    /// A one-value flag with extra clap settings (an environment variable, aliases, hidden).
    pub fn value_with(
        mut self,
        name: impl Into<String>,
        default: Option<&str>,
        help: impl Into<String>,
        customize: impl FnOnce(Arg) -> Arg,
    ) -> Self {
        let name = name.into();
        let mut arg = Arg::new(name.clone())
            .long(name)
            .num_args(1)
            .allow_hyphen_values(true)
            .action(ArgAction::Set)
            .help(help.into());
        if let Some(default) = default {
            arg = arg.default_value(default.to_owned());
        }
        let arg = customize(self.styled(arg));
        self.command = self.command.arg(arg);
        self
    }

    /// A repeatable flag: every `--name v` adds a value. An environment variable bound to it
    /// (through `customize`) holds several values separated by newlines.
    pub fn repeatable(
        mut self,
        name: impl Into<String>,
        defaults: &[&str],
        help: impl Into<String>,
        customize: impl FnOnce(Arg) -> Arg,
    ) -> Self {
        let name = name.into();
        let mut arg = Arg::new(name.clone())
            .long(name)
            .num_args(1)
            .allow_hyphen_values(true)
            .action(ArgAction::Append)
            .value_delimiter('\n')
            .help(help.into());
        if !defaults.is_empty() {
            arg = arg.default_values(defaults.iter().map(|d| (*d).to_owned()));
        }
        let arg = customize(self.styled(arg));
        self.command = self.command.arg(arg);
        self
    }

    /// Binds an already declared flag to an environment variable (command line wins). For a
    /// repeatable flag the variable holds values separated by newlines.
    pub fn env(mut self, name: &str, variable: &'static str) -> Self {
        let id = name.to_owned();
        self.command = self.command.mut_arg(id, |arg| arg.env(variable));
        self
    }

    /// Parses `args` (the program name first).
    pub fn parse<I, T>(self, args: I) -> Result<Flags, FlagError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let args = match self.dash_style {
            DashStyle::DoubleOnly => args,
            DashStyle::AcceptSingle => double_dash_long_flags(args, &self.command, &self.bools),
        };
        let matches = self
            .command
            .try_get_matches_from(args)
            .map_err(|err| match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    FlagError::Display(err.render().to_string())
                }
                _ => FlagError::Invalid(err.render().to_string()),
            })?;
        Ok(Flags {
            matches,
            bools: self.bools,
        })
    }

    /// Parses the process's own arguments, printing help, version or errors and exiting as
    /// kingpin does when parsing does not yield flags.
    /// Parses `args`, the arguments after the program's name (as tests and tools write them).
    pub fn parse_args(self, args: &[&str]) -> Result<Flags, FlagError> {
        let program = self.command.get_name().to_owned();
        self.parse(std::iter::once(program.as_str()).chain(args.iter().copied()))
    }

    pub fn parse_env_or_exit(self) -> Flags {
        self.parse(std::env::args_os())
            .unwrap_or_else(|err| err.exit())
    }
}

/// Rewrites `-name...` to `--name...` for Go `flag`-style command lines; anything after a bare
/// `--` stays as it is. A one-letter `-x` is rewritten only when a long flag `x` is declared
/// (klog's `-v 3`), so short flags such as `-h` keep working. The argument after a flag without
/// `=` is its value, unless the flag is a boolean (`-docker_only -port 8080` is two flags, as in
/// Go).
fn double_dash_long_flags(
    args: Vec<OsString>,
    command: &Command,
    bools: &[(String, bool)],
) -> Vec<OsString> {
    let is_declared_long = |name: &str| {
        command
            .get_arguments()
            .any(|arg| arg.get_long() == Some(name))
    };
    let takes_value = |flag: &str| {
        let name = flag.trim_start_matches('-');
        let name = name.strip_prefix("no-").unwrap_or(name);
        !flag.contains('=') && !bools.iter().any(|(bool_name, _)| bool_name == name)
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

/// Parsed flags, read by name.
#[derive(Debug)]
pub struct Flags {
    matches: ArgMatches,
    bools: Vec<(String, bool)>,
}

impl Flags {
    /// The value of a boolean flag declared with [`FlagSet::bool`].
    pub fn bool(&self, name: &str) -> bool {
        if let Ok(Some(value)) = self.matches.try_get_one::<bool>(name) {
            return *value;
        }
        if let Ok(Some(true)) = self
            .matches
            .try_get_one::<bool>(&format!("no-{name}"))
            .map(|v| v.copied())
        {
            return false;
        }
        self.bools
            .iter()
            .find(|(flag, _)| flag == name)
            .map(|(_, default)| *default)
            .unwrap_or(false)
    }

    /// Whether a flag was given on the command line or through its environment variable.
    pub fn was_given(&self, name: &str) -> bool {
        let given = |id: &str| {
            matches!(
                self.matches.value_source(id),
                Some(clap::parser::ValueSource::CommandLine)
                    | Some(clap::parser::ValueSource::EnvVariable)
            )
        };
        let is_bool = self.bools.iter().any(|(flag, _)| flag == name);
        given(name) || (is_bool && given(&format!("no-{name}")))
    }

    /// The value of a one-value flag, or its default.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.matches
            .try_get_one::<String>(name)
            .ok()
            .flatten()
            .map(String::as_str)
    }

    /// All values of a repeatable flag, in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.matches
            .try_get_many::<String>(name)
            .ok()
            .flatten()
            .map(|values| {
                values
                    .map(String::as_str)
                    .filter(|v| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A one-value flag parsed as a Go duration (`5s`, `1m30s`, `250ms`).
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, FlagValueError> {
        self.value(name)
            .map(|text| {
                parse_go_duration(text).map_err(|reason| FlagValueError {
                    flag: name.to_owned(),
                    value: text.to_owned(),
                    reason,
                })
            })
            .transpose()
    }

    /// A one-value flag parsed with `FromStr`.
    pub fn parsed<T>(&self, name: &str) -> Result<Option<T>, FlagValueError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        self.value(name)
            .map(|text| {
                text.trim().parse::<T>().map_err(|err| FlagValueError {
                    flag: name.to_owned(),
                    value: text.to_owned(),
                    reason: err.to_string(),
                })
            })
            .transpose()
    }
}

/// A flag whose value does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for flag --{flag}: {reason}")]
pub struct FlagValueError {
    pub flag: String,
    pub value: String,
    pub reason: String,
}

/// Parses a Go `time.Duration` string: a sequence of decimal numbers with units `ns`, `us`
/// (or `µs`), `ms`, `s`, `m`, `h`, such as `300ms`, `1.5h` or `2h45m`; `0` alone is zero.
///
/// Hand-written because Go's grammar (fractions, concatenated units, no spaces) is not what
/// humantime accepts, and flags copied from upstream configurations use it.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    if text.starts_with('-') {
        return Err("negative durations are not allowed".to_owned());
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {text:?}"))?;
        if number_len == 0 {
            return Err(format!("invalid duration {text:?}"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("invalid number in duration {text:?}"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown unit {other:?} in duration {text:?}")),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total)
        .map_err(|err| format!("duration {text:?} out of range: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        FlagSet::new("test", "a test", "1.0".into())
            .bool("collector.cpu", true, "cpu")
            .bool("collector.wifi", false, "wifi")
            .value("web.telemetry-path", Some("/metrics"), "path")
            .value_with("nginx.timeout", Some("5s"), "timeout", |a| {
                a.env("OCTO_TEST_TIMEOUT_UNSET")
            })
            .repeatable("web.listen-address", &[":9100"], "listen", |a| a)
    }

    #[test]
    fn kingpin_grammar() {
        let f = set()
            .parse([
                "test",
                "--no-collector.cpu",
                "--collector.wifi",
                "--web.telemetry-path",
                "/m",
                "--web.listen-address=:1",
                "--web.listen-address",
                ":2",
            ])
            .unwrap();
        assert!(!f.bool("collector.cpu"));
        assert!(f.bool("collector.wifi"));
        assert_eq!(f.value("web.telemetry-path"), Some("/m"));
        assert_eq!(f.values("web.listen-address"), vec![":1", ":2"]);
    }

    #[test]
    fn defaults_apply_and_last_bool_wins() {
        let f = set()
            .parse(["test", "--collector.cpu=false", "--collector.cpu"])
            .unwrap();
        assert!(f.bool("collector.cpu"));
        assert!(!f.bool("collector.wifi"));
        assert_eq!(f.values("web.listen-address"), vec![":9100"]);
        assert!(!f.was_given("collector.wifi"));
        let f = set()
            .parse(["test", "--collector.wifi", "--no-collector.wifi"])
            .unwrap();
        assert!(!f.bool("collector.wifi"));
        assert!(f.was_given("collector.wifi"));
    }

    #[test]
    fn unknown_or_malformed_flags_are_errors() {
        assert!(matches!(
            set().parse(["test", "--collector.nope"]),
            Err(FlagError::Invalid(_))
        ));
        assert!(matches!(
            set().parse(["test", "--collector.cpu=maybe"]),
            Err(FlagError::Invalid(_))
        ));
        assert!(matches!(
            set().parse(["test", "--web.telemetry-path"]),
            Err(FlagError::Invalid(_))
        ));
        assert!(matches!(
            set().parse(["test", "-web.telemetry-path=/x"]),
            Err(FlagError::Invalid(_))
        ));
        assert!(matches!(
            set().parse(["test", "--help"]),
            Err(FlagError::Display(_))
        ));
        assert!(matches!(
            set().parse(["test", "--version"]),
            Err(FlagError::Display(_))
        ));
    }

    #[test]
    fn single_dash_when_asked() {
        let f = set()
            .dash_style(DashStyle::AcceptSingle)
            .parse([
                "test",
                "-web.telemetry-path=/x",
                "-nginx.timeout",
                "-1s",
                "-collector.cpu=false",
            ])
            .unwrap();
        assert_eq!(f.value("web.telemetry-path"), Some("/x"));
        assert_eq!(f.value("nginx.timeout"), Some("-1s"));
        assert!(!f.bool("collector.cpu"));
    }

    #[test]
    fn single_dash_booleans_take_no_value() {
        let f = set()
            .dash_style(DashStyle::AcceptSingle)
            .parse([
                "test",
                "-collector.wifi",
                "-web.telemetry-path",
                "/x",
                "-no-collector.cpu",
            ])
            .unwrap();
        assert!(f.bool("collector.wifi"));
        assert!(!f.bool("collector.cpu"));
        assert_eq!(f.value("web.telemetry-path"), Some("/x"));
    }

    #[test]
    fn single_dash_one_letter_only_when_declared_long() {
        let with_v = || {
            set()
                .value("v", Some("2"), "verbosity")
                .dash_style(DashStyle::AcceptSingle)
        };
        let f = with_v()
            .parse(["test", "-v", "3", "-collector.wifi"])
            .unwrap();
        assert_eq!(f.value("v"), Some("3"));
        assert!(f.bool("collector.wifi"));
        let f = with_v().parse(["test", "-v=4"]).unwrap();
        assert_eq!(f.value("v"), Some("4"));
        assert!(matches!(
            set()
                .dash_style(DashStyle::AcceptSingle)
                .parse(["test", "-v", "3"]),
            Err(FlagError::Invalid(_))
        ));
        assert!(matches!(
            with_v().parse(["test", "-h"]),
            Err(FlagError::Display(_))
        ));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("-5s").is_err());
        assert!(parse_go_duration("5 parsecs").is_err());
        assert!(parse_go_duration("").is_err());
    }
}
