//! Command-line flags with the upstream exporters' grammar, on clap, read through typed handles.
//!
//! A flag is declared once, with its name, default and help, and the declaration returns a
//! [`Flag`] handle; the parsed [`Flags`] are read through that handle only
//! ([`Flags::get`]), so a default is written in one place and a misspelt name cannot be read.
//!
//! ```
//! use octo_exporter_kit::FlagSet;
//! let mut set = FlagSet::new("demo", "A demo.", "1.0".into());
//! let max = set.number("exporter.max_open_connections", 2u32, "Connections kept open.");
//! let cpu = set.bool("collector.cpu", true, "Enable the cpu collector.");
//! let flags = set.parse_args(&["--no-collector.cpu"]).unwrap();
//! assert_eq!(flags.get(max), 2);
//! assert!(!flags.get(cpu));
//! ```
//!
//! kingpin (node_exporter, mysqld_exporter, nginx-prometheus-exporter 1.x): `--x=v` or `--x v`,
//! booleans as `--x`, `--no-x` or `--x=false`, repeatable flags accumulate, an environment
//! variable bound to a repeatable flag is split on newlines. Go's `flag` package (cAdvisor,
//! nginx-prometheus-exporter 0.11) also accepts a single dash (`-port=8080`); exporters that
//! replace such a program rewrite single-dash long flags to double-dash first, as
//! nginx-prometheus-exporter 1.x does.
//!
//! An unknown or malformed flag, or a value that does not parse as its type, is an error with
//! exit status 1, as with kingpin.

mod go_duration;
mod go_style;

use std::ffi::OsString;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};

pub use go_duration::parse_go_duration;

/// How single-dash long flags (`-web.listen-address=:9113`) are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashStyle {
    /// kingpin: only `--long` flags.
    DoubleOnly,
    /// Go's `flag` package too: `-long` is read as `--long`.
    AcceptSingle,
}

/// A declared flag, to read from the parsed [`Flags`] with [`Flags::get`]. `T` is what the
/// flag holds: `bool`, `String` (with a default), `Option<String>`, `Vec<String>` (repeatable),
/// `Duration`, a number, or an `Option` of those.
pub struct Flag<T> {
    index: usize,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Flag<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Flag<T> {}

impl<T> fmt::Debug for Flag<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flag#{}", self.index)
    }
}

/// What the kit knows of a declared flag.
#[derive(Debug, Clone)]
struct Declared {
    /// The clap id, which is also the long name.
    id: String,
    /// `Some(default)` for booleans, which have a hidden `--no-<name>` twin.
    bool_default: Option<bool>,
}

/// The types a [`Flag`] can hold, and what reading one gives.
pub trait FlagKind: sealed::Read {}

mod sealed {
    use clap::ArgMatches;

    /// How a flag kind is read back from clap's matches.
    pub trait Read {
        /// What [`Flags::get`](super::Flags::get) returns.
        type Value<'a>;
        fn read<'a>(
            matches: &'a ArgMatches,
            id: &str,
            bool_default: Option<bool>,
        ) -> Self::Value<'a>;
    }
}

impl FlagKind for bool {}
impl sealed::Read for bool {
    type Value<'a> = bool;
    fn read(matches: &ArgMatches, id: &str, bool_default: Option<bool>) -> bool {
        if let Ok(Some(value)) = matches.try_get_one::<bool>(id) {
            return *value;
        }
        if let Ok(Some(true)) = matches.try_get_one::<bool>(&format!("no-{id}")) {
            return false;
        }
        bool_default.unwrap_or(false)
    }
}

impl FlagKind for String {}
impl sealed::Read for String {
    type Value<'a> = &'a str;
    fn read<'a>(matches: &'a ArgMatches, id: &str, _: Option<bool>) -> &'a str {
        <Option<String> as sealed::Read>::read(matches, id, None).unwrap_or_default()
    }
}

impl FlagKind for Option<String> {}
impl sealed::Read for Option<String> {
    type Value<'a> = Option<&'a str>;
    fn read<'a>(matches: &'a ArgMatches, id: &str, _: Option<bool>) -> Option<&'a str> {
        matches
            .try_get_one::<String>(id)
            .ok()
            .flatten()
            .map(String::as_str)
    }
}

impl FlagKind for Vec<String> {}
impl sealed::Read for Vec<String> {
    /// Every non-empty value, in order.
    type Value<'a> = Vec<&'a str>;
    fn read<'a>(matches: &'a ArgMatches, id: &str, _: Option<bool>) -> Vec<&'a str> {
        matches
            .try_get_many::<String>(id)
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
}

/// Types parsed from the flag's text when the command line is parsed.
pub trait Parsed: Clone + Send + Sync + fmt::Debug + 'static {
    /// Parses the flag's text; the message ends up in the command-line error.
    fn parse_flag(text: &str) -> Result<Self, String>;
}

impl Parsed for Duration {
    fn parse_flag(text: &str) -> Result<Self, String> {
        parse_go_duration(text)
    }
}

macro_rules! parsed_numbers {
    ($($number:ty),*) => {$(
        impl Parsed for $number {
            fn parse_flag(text: &str) -> Result<Self, String> {
                text.trim().parse::<$number>().map_err(|err| err.to_string())
            }
        }
        impl FlagKind for $number {}
        impl sealed::Read for $number {
            type Value<'a> = $number;
            fn read(matches: &ArgMatches, id: &str, _: Option<bool>) -> $number {
                read_parsed::<$number>(matches, id).unwrap_or_default()
            }
        }
        impl FlagKind for Option<$number> {}
        impl sealed::Read for Option<$number> {
            type Value<'a> = Option<$number>;
            fn read(matches: &ArgMatches, id: &str, _: Option<bool>) -> Option<$number> {
                read_parsed::<$number>(matches, id)
            }
        }
    )*};
}

parsed_numbers!(u8, u16, u32, u64, usize, i32, i64, f64);

impl FlagKind for Duration {}
impl sealed::Read for Duration {
    type Value<'a> = Duration;
    fn read(matches: &ArgMatches, id: &str, _: Option<bool>) -> Duration {
        read_parsed::<Duration>(matches, id).unwrap_or_default()
    }
}

impl FlagKind for Option<Duration> {}
impl sealed::Read for Option<Duration> {
    type Value<'a> = Option<Duration>;
    fn read(matches: &ArgMatches, id: &str, _: Option<bool>) -> Option<Duration> {
        read_parsed::<Duration>(matches, id)
    }
}

fn read_parsed<T: Parsed>(matches: &ArgMatches, id: &str) -> Option<T> {
    matches.try_get_one::<T>(id).ok().flatten().cloned()
}

/// A set of flags being declared; [`parse`](Self::parse) turns it into [`Flags`].
#[derive(Debug)]
pub struct FlagSet {
    command: Command,
    declared: Vec<Declared>,
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
    /// An empty set for `binary`; [`ExporterInfo::flag_set`](crate::info::ExporterInfo::flag_set)
    /// gives one that already holds the web and logging flags.
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
            declared: Vec::new(),
            dash_style: DashStyle::DoubleOnly,
            heading: None,
        }
    }

    /// Also accept single-dash long flags (Go `flag` grammar).
    pub fn dash_style(&mut self, style: DashStyle) -> &mut Self {
        self.dash_style = style;
        self
    }

    /// Groups the flags declared after this call under a heading in `--help`.
    pub fn heading(&mut self, heading: impl Into<String>) -> &mut Self {
        self.heading = Some(heading.into());
        self
    }

    fn add<T>(&mut self, arg: Arg, bool_default: Option<bool>) -> Flag<T> {
        let arg = match &self.heading {
            Some(heading) => arg.help_heading(heading.clone()),
            None => arg,
        };
        let id = arg.get_id().to_string();
        self.command = std::mem::take(&mut self.command).arg(arg);
        self.declared.push(Declared { id, bool_default });
        Flag {
            index: self.declared.len() - 1,
            kind: PhantomData,
        }
    }

    fn one_value(name: String, help: String) -> Arg {
        Arg::new(name.clone())
            .long(name)
            .num_args(1)
            .allow_hyphen_values(true)
            .action(ArgAction::Set)
            .help(help)
    }

    /// A boolean flag: `--name`, `--name=false`, and `--no-name`; the last one given wins.
    pub fn bool(
        &mut self,
        name: impl Into<String>,
        default: bool,
        help: impl Into<String>,
    ) -> Flag<bool> {
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
        let negated = Arg::new(negative.clone())
            .long(negative)
            .action(ArgAction::SetTrue)
            .hide(true)
            .overrides_with(name);
        let flag = self.add(positive, Some(default));
        self.command = std::mem::take(&mut self.command).arg(negated);
        flag
    }

    /// A one-value flag with a default (`--name=v` or `--name v`); the last one given wins.
    pub fn string(
        &mut self,
        name: impl Into<String>,
        default: &str,
        help: impl Into<String>,
    ) -> Flag<String> {
        let arg = Self::one_value(name.into(), help.into()).default_value(default.to_owned());
        self.add(arg, None)
    }

    /// A one-value flag without a default: `None` unless given.
    pub fn optional(
        &mut self,
        name: impl Into<String>,
        help: impl Into<String>,
    ) -> Flag<Option<String>> {
        let arg = Self::one_value(name.into(), help.into());
        self.add(arg, None)
    }

    /// A repeatable flag: every `--name v` adds a value. An environment variable bound to it
    /// ([`env`](Self::env)) holds several values separated by newlines.
    pub fn repeatable(
        &mut self,
        name: impl Into<String>,
        defaults: &[&str],
        help: impl Into<String>,
    ) -> Flag<Vec<String>> {
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
        self.add(arg, None)
    }

    /// A Go duration (`5s`, `1m30s`, `250ms`) with a default written the same way.
    pub fn duration(
        &mut self,
        name: impl Into<String>,
        default: &str,
        help: impl Into<String>,
    ) -> Flag<Duration> {
        self.parsed_flag::<Duration, Duration>(name.into(), Some(default.to_owned()), help.into())
    }

    /// A Go duration without a default: `None` unless given.
    pub fn optional_duration(
        &mut self,
        name: impl Into<String>,
        help: impl Into<String>,
    ) -> Flag<Option<Duration>> {
        self.parsed_flag::<Duration, Option<Duration>>(name.into(), None, help.into())
    }

    /// A number (`u32`, `usize`, `f64`...) with a default.
    pub fn number<T>(
        &mut self,
        name: impl Into<String>,
        default: T,
        help: impl Into<String>,
    ) -> Flag<T>
    where
        T: Parsed + FlagKind + fmt::Display,
    {
        self.parsed_flag::<T, T>(name.into(), Some(default.to_string()), help.into())
    }

    /// A number without a default: `None` unless given.
    pub fn optional_number<T>(
        &mut self,
        name: impl Into<String>,
        help: impl Into<String>,
    ) -> Flag<Option<T>>
    where
        T: Parsed,
        Option<T>: FlagKind,
    {
        self.parsed_flag::<T, Option<T>>(name.into(), None, help.into())
    }

    fn parsed_flag<P: Parsed, T>(
        &mut self,
        name: String,
        default: Option<String>,
        help: String,
    ) -> Flag<T> {
        let mut arg = Self::one_value(name, help).value_parser(P::parse_flag);
        if let Some(default) = default {
            arg = arg.default_value(default);
        }
        self.add(arg, None)
    }

    /// Changes a declared flag's clap settings: aliases, hidden from `--help`, a value name.
    pub fn customize<T>(&mut self, flag: Flag<T>, change: impl FnOnce(Arg) -> Arg) -> &mut Self {
        if let Some(declared) = self.declared.get(flag.index) {
            let id = declared.id.clone();
            self.command = std::mem::take(&mut self.command).mut_arg(id, change);
        }
        self
    }

    /// Binds a declared flag to an environment variable (the command line wins). For a
    /// repeatable flag the variable holds values separated by newlines.
    pub fn env<T>(&mut self, flag: Flag<T>, variable: &'static str) -> &mut Self {
        self.customize(flag, |arg| arg.env(variable))
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
            DashStyle::AcceptSingle => go_style::double_dash_long_flags(
                args,
                |name| {
                    self.command
                        .get_arguments()
                        .any(|arg| arg.get_long() == Some(name))
                },
                |name| {
                    self.declared
                        .iter()
                        .any(|d| d.bool_default.is_some() && d.id == name)
                },
            ),
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
            declared: self.declared,
        })
    }

    /// Parses `args`, the arguments after the program's name (as tests and tools write them).
    pub fn parse_args(self, args: &[&str]) -> Result<Flags, FlagError> {
        let program = self.command.get_name().to_owned();
        self.parse(std::iter::once(program.as_str()).chain(args.iter().copied()))
    }

    /// Parses the process's own arguments, printing help, version or errors and exiting as
    /// kingpin does when parsing does not yield flags.
    pub fn parse_env_or_exit(self) -> Flags {
        self.parse(std::env::args_os())
            .unwrap_or_else(|err| err.exit())
    }
}

/// Parsed flags, read through the handles their declarations returned.
#[derive(Debug)]
pub struct Flags {
    matches: ArgMatches,
    declared: Vec<Declared>,
}

impl Flags {
    fn declared<T>(&self, flag: Flag<T>) -> &Declared {
        match self.declared.get(flag.index) {
            Some(declared) => declared,
            // A handle of another flag set: a bug that the first test run shows.
            None => panic!("flag handle {flag:?} does not belong to this flag set"),
        }
    }

    /// A flag's value (its default when not given).
    pub fn get<T: FlagKind>(&self, flag: Flag<T>) -> <T as sealed::Read>::Value<'_> {
        let declared = self.declared(flag);
        T::read(&self.matches, &declared.id, declared.bool_default)
    }

    /// Whether a flag was given on the command line or through its environment variable.
    pub fn was_given<T>(&self, flag: Flag<T>) -> bool {
        let declared = self.declared(flag);
        let given = |id: &str| {
            matches!(
                self.matches.value_source(id),
                Some(clap::parser::ValueSource::CommandLine)
                    | Some(clap::parser::ValueSource::EnvVariable)
            )
        };
        given(&declared.id)
            || (declared.bool_default.is_some() && given(&format!("no-{}", declared.id)))
    }

    /// The long name a flag was declared with (for messages).
    pub fn name<T>(&self, flag: Flag<T>) -> &str {
        &self.declared(flag).id
    }
}

/// A flag whose value is refused after parsing (out of range, contradicting another flag).
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for flag --{flag}: {reason}")]
pub struct FlagValueError {
    /// The flag's long name.
    pub flag: String,
    /// The value given.
    pub value: String,
    /// Why it is refused.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Declared {
        set: FlagSet,
        cpu: Flag<bool>,
        wifi: Flag<bool>,
        path: Flag<String>,
        timeout: Flag<Duration>,
        listen: Flag<Vec<String>>,
        connections: Flag<u32>,
        config: Flag<Option<String>>,
    }

    fn declared() -> Declared {
        let mut set = FlagSet::new("test", "a test", "1.0".into());
        let cpu = set.bool("collector.cpu", true, "cpu");
        let wifi = set.bool("collector.wifi", false, "wifi");
        let path = set.string("web.telemetry-path", "/metrics", "path");
        let timeout = set.duration("nginx.timeout", "5s", "timeout");
        set.env(timeout, "OCTO_TEST_TIMEOUT_UNSET");
        let listen = set.repeatable("web.listen-address", &[":9100"], "listen");
        let connections = set.number("exporter.max_open_connections", 2u32, "connections");
        let config = set.optional("web.config.file", "config");
        Declared {
            set,
            cpu,
            wifi,
            path,
            timeout,
            listen,
            connections,
            config,
        }
    }

    #[test]
    fn kingpin_grammar() {
        let d = declared();
        let f = d
            .set
            .parse_args(&[
                "--no-collector.cpu",
                "--collector.wifi",
                "--web.telemetry-path",
                "/m",
                "--web.listen-address=:1",
                "--web.listen-address",
                ":2",
                "--nginx.timeout=1m30s",
                "--exporter.max_open_connections=7",
            ])
            .unwrap();
        assert!(!f.get(d.cpu));
        assert!(f.get(d.wifi));
        assert_eq!(f.get(d.path), "/m");
        assert_eq!(f.get(d.listen), vec![":1", ":2"]);
        assert_eq!(f.get(d.timeout), Duration::from_secs(90));
        assert_eq!(f.get(d.connections), 7);
        assert_eq!(f.get(d.config), None);
        assert_eq!(f.name(d.connections), "exporter.max_open_connections");
    }

    #[test]
    fn defaults_apply_and_last_bool_wins() {
        let d = declared();
        let f = d
            .set
            .parse_args(&["--collector.cpu=false", "--collector.cpu"])
            .unwrap();
        assert!(f.get(d.cpu));
        assert!(!f.get(d.wifi));
        assert_eq!(f.get(d.listen), vec![":9100"]);
        assert_eq!(f.get(d.timeout), Duration::from_secs(5));
        assert_eq!(f.get(d.connections), 2);
        assert!(!f.was_given(d.wifi));
        assert!(!f.was_given(d.connections));
        let d = declared();
        let f = d
            .set
            .parse_args(&["--collector.wifi", "--no-collector.wifi"])
            .unwrap();
        assert!(!f.get(d.wifi));
        assert!(f.was_given(d.wifi));
    }

    #[test]
    fn unknown_malformed_or_mistyped_flags_are_errors() {
        let invalid =
            |args: &[&str]| matches!(declared().set.parse_args(args), Err(FlagError::Invalid(_)));
        assert!(invalid(&["--collector.nope"]));
        assert!(invalid(&["--collector.cpu=maybe"]));
        assert!(invalid(&["--web.telemetry-path"]));
        assert!(invalid(&["-web.telemetry-path=/x"]));
        assert!(invalid(&["--nginx.timeout=5"]));
        assert!(invalid(&["--nginx.timeout=1e300h"]));
        assert!(invalid(&["--exporter.max_open_connections=-1"]));
        assert!(invalid(&["--exporter.max_open_connections=lots"]));
        let display =
            |args: &[&str]| matches!(declared().set.parse_args(args), Err(FlagError::Display(_)));
        assert!(display(&["--help"]));
        assert!(display(&["--version"]));
    }

    #[test]
    fn single_dash_when_asked() {
        let mut d = declared();
        d.set.dash_style(DashStyle::AcceptSingle);
        let f = d
            .set
            .parse_args(&[
                "-web.telemetry-path=/x",
                "-nginx.timeout",
                "2s",
                "-collector.cpu=false",
            ])
            .unwrap();
        assert_eq!(f.get(d.path), "/x");
        assert_eq!(f.get(d.timeout), Duration::from_secs(2));
        assert!(!f.get(d.cpu));
    }

    #[test]
    fn single_dash_booleans_take_no_value() {
        let mut d = declared();
        d.set.dash_style(DashStyle::AcceptSingle);
        let f = d
            .set
            .parse_args(&[
                "-collector.wifi",
                "-web.telemetry-path",
                "/x",
                "-no-collector.cpu",
            ])
            .unwrap();
        assert!(f.get(d.wifi));
        assert!(!f.get(d.cpu));
        assert_eq!(f.get(d.path), "/x");
    }

    #[test]
    fn single_dash_one_letter_only_when_declared_long() {
        let with_v = || {
            let mut d = declared();
            let v = d.set.string("v", "2", "verbosity");
            d.set.dash_style(DashStyle::AcceptSingle);
            (d, v)
        };
        let (d, v) = with_v();
        let f = d.set.parse_args(&["-v", "3", "-collector.wifi"]).unwrap();
        assert_eq!(f.get(v), "3");
        assert!(f.get(d.wifi));
        let (d, v) = with_v();
        let f = d.set.parse_args(&["-v=4"]).unwrap();
        assert_eq!(f.get(v), "4");
        let mut d = declared();
        d.set.dash_style(DashStyle::AcceptSingle);
        assert!(matches!(
            d.set.parse_args(&["-v", "3"]),
            Err(FlagError::Invalid(_))
        ));
        let (d, _) = with_v();
        assert!(matches!(
            d.set.parse_args(&["-h"]),
            Err(FlagError::Display(_))
        ));
    }

    #[test]
    fn customized_flags_keep_their_handle() {
        let mut set = FlagSet::new("test", "a test", "1.0".into());
        let include = set.optional("collector.netdev.device-include", "include");
        set.customize(include, |arg| {
            arg.alias("collector.netdev.device-whitelist")
        });
        let f = set
            .parse_args(&["--collector.netdev.device-whitelist=eth0"])
            .unwrap();
        assert_eq!(f.get(include), Some("eth0"));
        assert!(f.was_given(include));
    }
}
