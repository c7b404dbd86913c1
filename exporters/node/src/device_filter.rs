//! upstream's `deviceFilter` (device_filter.go): the include/exclude regex pair several
//! collectors (arp, diskstats, filesystem, hwmon, interrupts, netdev) apply to names.

use octo_exporter_kit::{Flag, Flags};
use regex_lite::Regex;

use crate::collector::BuildError;
use crate::field_filter::FieldFilter;

/// Compiles a filter regex given on the command line; Go's `regexp` (RE2) syntax, which the
/// `regex` crate accepts for these patterns. Not anchored: a match anywhere counts, as Go's
/// `MatchString`.
pub(crate) fn compile_regex(flag: &str, pattern: &str) -> Result<Regex, BuildError> {
    Regex::new(pattern).map_err(|err| {
        BuildError::Invalid(format!("--{flag}={pattern:?} is not a valid regexp: {err}"))
    })
}

/// upstream's `deviceFilter`: a name is ignored when it matches the exclude pattern or does not
/// match the include pattern.
#[derive(Debug, Default)]
pub(crate) struct DeviceFilter {
    exclude: Option<FieldFilter>,
    include: Option<FieldFilter>,
}

impl DeviceFilter {
    /// Both patterns given (non-empty) is an error naming the flags; empty means "not given".
    pub(crate) fn new(
        exclude: Option<(&str, &str)>,
        include: Option<(&str, &str)>,
    ) -> Result<Self, BuildError> {
        let exclude = exclude.filter(|(_, pattern)| !pattern.is_empty());
        let include = include.filter(|(_, pattern)| !pattern.is_empty());
        if let (Some((exclude_flag, _)), Some((include_flag, _))) = (exclude, include) {
            return Err(BuildError::Invalid(format!(
                "--{exclude_flag} and --{include_flag} are mutually exclusive"
            )));
        }
        let compile =
            |(flag, pattern): (&str, &str)| compile_regex(flag, pattern).map(FieldFilter::new);
        Ok(DeviceFilter {
            exclude: exclude.map(compile).transpose()?,
            include: include.map(compile).transpose()?,
        })
    }

    /// The filter from an exclude/include flag pair.
    pub(crate) fn from_flags(
        flags: &Flags,
        exclude: Flag<Option<String>>,
        include: Flag<Option<String>>,
    ) -> Result<Self, BuildError> {
        Self::new(
            flags.get(exclude).map(|p| (flags.name(exclude), p)),
            flags.get(include).map(|p| (flags.name(include), p)),
        )
    }

    /// An exclude flag with a default and its include flag, with upstream's rule: an include
    /// pattern replaces the default exclude, and only an explicitly given exclude conflicts.
    pub(crate) fn with_default_exclude(
        flags: &Flags,
        exclude: Flag<String>,
        include: Flag<Option<String>>,
    ) -> Result<Self, BuildError> {
        let include_pattern = flags.get(include).filter(|p| !p.is_empty());
        let mut exclude_pattern = Some(flags.get(exclude));
        if include_pattern.is_some() {
            if flags.was_given(exclude) && exclude_pattern.is_some_and(|p| !p.is_empty()) {
                return Err(BuildError::Invalid(format!(
                    "--{} and --{} are mutually exclusive",
                    flags.name(exclude),
                    flags.name(include)
                )));
            }
            exclude_pattern = None;
        }
        Self::new(
            exclude_pattern.map(|p| (flags.name(exclude), p)),
            include_pattern.map(|p| (flags.name(include), p)),
        )
    }

    /// Whether a pattern was given; callers skip building the name to match when not.
    pub(crate) fn is_active(&self) -> bool {
        self.exclude.is_some() || self.include.is_some()
    }

    pub(crate) fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|re| re.is_match(name))
            || self.include.as_ref().is_some_and(|re| !re.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_follows_upstream() {
        let filter = DeviceFilter::new(None, Some(("include", "^(lo|eth0)$"))).unwrap();
        assert!(!filter.ignored("lo"));
        assert!(filter.ignored("eth1"));
        let filter = DeviceFilter::new(Some(("exclude", "veth")), None).unwrap();
        assert!(filter.ignored("veth1234"));
        assert!(!filter.ignored("eth0"));
        assert!(
            !DeviceFilter::new(Some(("e", "")), Some(("i", "")))
                .unwrap()
                .ignored("x")
        );
        let err = DeviceFilter::new(Some(("a.exclude", "x")), Some(("a.include", "y")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--a.exclude") && err.contains("--a.include"),
            "{err}"
        );
        assert!(DeviceFilter::new(Some(("e", "(")), None).is_err());
    }
}
