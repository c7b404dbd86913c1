//! An exporter's command line: the kit's own flags (web server, logging) declared beside the
//! exporter's, with their handles carried through parsing.

use std::ops::{Deref, DerefMut};

use crate::flags::{FlagError, FlagSet, FlagValueError, Flags};
use crate::info::ExporterInfo;
use crate::logging::LogFlags;
use crate::web_options::{WebFlags, WebOptions};

/// The handles of the flags the kit declares on every exporter.
#[derive(Debug, Clone, Copy)]
pub struct KitFlags {
    /// `--web.*`.
    pub web: WebFlags,
    /// `--log.level`, `--log.format`.
    pub log: LogFlags,
}

/// An exporter's flag set: a [`FlagSet`] (declare the exporter's flags on it) that already
/// holds the kit's web and logging flags.
#[derive(Debug)]
pub struct ExporterFlagSet {
    set: FlagSet,
    kit: KitFlags,
}

/// An exporter's parsed flags: the exporter's own through [`Flags::get`], and the kit's.
#[derive(Debug)]
pub struct ExporterFlags {
    flags: Flags,
    kit: KitFlags,
}

impl ExporterInfo {
    /// A flag set holding the web and logging flags every exporter has.
    pub fn flag_set(&'static self, about: &'static str) -> ExporterFlagSet {
        let version = format!(
            "{} (drop-in for {}; built with {})",
            self.version,
            self.upstream,
            env!("OCTO_RUSTC_VERSION")
        );
        let mut set = FlagSet::new(self.binary, about, version);
        let web = WebFlags::declare(&mut set, self);
        let log = LogFlags::declare(&mut set);
        ExporterFlagSet {
            set,
            kit: KitFlags { web, log },
        }
    }
}

impl ExporterFlagSet {
    /// The handles of the kit's own flags, to bind an environment variable to one or to ask
    /// whether it was given.
    pub fn kit(&self) -> KitFlags {
        self.kit
    }

    /// Parses `args` (the program name first).
    pub fn parse<I, T>(self, args: I) -> Result<ExporterFlags, FlagError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString>,
    {
        Ok(ExporterFlags {
            flags: self.set.parse(args)?,
            kit: self.kit,
        })
    }

    /// Parses `args`, the arguments after the program's name.
    pub fn parse_args(self, args: &[&str]) -> Result<ExporterFlags, FlagError> {
        Ok(ExporterFlags {
            flags: self.set.parse_args(args)?,
            kit: self.kit,
        })
    }

    /// Parses the process's arguments, or prints help, version or the error and exits.
    pub fn parse_env_or_exit(self) -> ExporterFlags {
        ExporterFlags {
            flags: self.set.parse_env_or_exit(),
            kit: self.kit,
        }
    }
}

impl Deref for ExporterFlagSet {
    type Target = FlagSet;
    fn deref(&self) -> &FlagSet {
        &self.set
    }
}

impl DerefMut for ExporterFlagSet {
    fn deref_mut(&mut self) -> &mut FlagSet {
        &mut self.set
    }
}

impl ExporterFlags {
    /// The handles of the kit's own flags.
    pub fn kit(&self) -> KitFlags {
        self.kit
    }

    /// What the `--web.*` flags say.
    pub fn web_options(&self) -> Result<WebOptions, FlagValueError> {
        WebOptions::from_flags(&self.flags, self.kit.web)
    }
}

impl Deref for ExporterFlags {
    type Target = Flags;
    fn deref(&self) -> &Flags {
        &self.flags
    }
}
