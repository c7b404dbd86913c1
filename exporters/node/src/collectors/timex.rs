//! `timex`: the kernel clock discipline state from `adjtimex(2)` (a read-only call, no
//! privileges needed): `node_timex_*` offsets, errors, PPS figures and `node_timex_sync_status`.
//!
//! This reads the live clock, not a file, so `--path.*` do not apply (as upstream). nix has no
//! `adjtimex` wrapper, so the call goes through libc in one small `unsafe` block.

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|_| Ok(Box::new(Timex)))
}

struct Timex;

/// `adjtimex`'s clock state meaning "not synchronised" (TIME_ERROR).
const TIME_ERROR: i32 = 5;
/// The status bit saying offsets are in nanoseconds rather than microseconds (STA_NANO).
const STA_NANO: i64 = 0x2000;
/// Frequencies are ppm with a 16-bit fraction (see NOTES in adjtimex(2)).
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
const MICROSECONDS: f64 = 1_000_000.0;
const NANOSECONDS: f64 = 1_000_000_000.0;

/// What `adjtimex` returned, widened to i64.
#[derive(Debug, Default, Clone, Copy)]
struct Reading {
    state: i32,
    offset: i64,
    freq: i64,
    maxerror: i64,
    esterror: i64,
    status: i64,
    constant: i64,
    tick: i64,
    ppsfreq: i64,
    jitter: i64,
    shift: i64,
    stabil: i64,
    jitcnt: i64,
    calcnt: i64,
    errcnt: i64,
    stbcnt: i64,
    tai: i64,
}

#[allow(unsafe_code)]
// c_long is i32 on 32-bit targets: the widening is only a no-op on 64-bit ones.
#[allow(clippy::useless_conversion)]
fn adjtimex() -> std::io::Result<Reading> {
    let mut buffer = std::mem::MaybeUninit::<libc::timex>::zeroed();
    // SAFETY: `buffer` is a zeroed timex, so `modes` is 0 and the call only reads the kernel's
    // state into it; the pointer is valid for the duration of the call.
    let state = unsafe { libc::adjtimex(buffer.as_mut_ptr()) };
    if state == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: an all-zero timex is a valid value, and the kernel filled it in.
    let t = unsafe { buffer.assume_init() };
    Ok(Reading {
        state,
        offset: i64::from(t.offset),
        freq: i64::from(t.freq),
        maxerror: i64::from(t.maxerror),
        esterror: i64::from(t.esterror),
        status: i64::from(t.status),
        constant: i64::from(t.constant),
        tick: i64::from(t.tick),
        ppsfreq: i64::from(t.ppsfreq),
        jitter: i64::from(t.jitter),
        shift: i64::from(t.shift),
        stabil: i64::from(t.stabil),
        jitcnt: i64::from(t.jitcnt),
        calcnt: i64::from(t.calcnt),
        errcnt: i64::from(t.errcnt),
        stbcnt: i64::from(t.stbcnt),
        tai: i64::from(t.tai),
    })
}

fn families(r: &Reading) -> Vec<MetricFamily> {
    let divisor = if r.status & STA_NANO != 0 {
        NANOSECONDS
    } else {
        MICROSECONDS
    };
    let sync = if r.state == TIME_ERROR { 0.0 } else { 1.0 };
    let gauge = |name: &str, help: &'static str, value: f64| {
        MetricFamily::gauge(format!("node_timex_{name}"), help).with(&[], value)
    };
    let counter = |name: &str, help: &'static str, value: i64| {
        MetricFamily::counter(format!("node_timex_{name}"), help).with(&[], value as f64)
    };
    vec![
        gauge(
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            sync,
        ),
        gauge(
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            r.offset as f64 / divisor,
        ),
        gauge(
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + r.freq as f64 / PPM16FRAC,
        ),
        gauge(
            "maxerror_seconds",
            "Maximum error in seconds.",
            r.maxerror as f64 / MICROSECONDS,
        ),
        gauge(
            "estimated_error_seconds",
            "Estimated error in seconds.",
            r.esterror as f64 / MICROSECONDS,
        ),
        gauge("status", "Value of the status array bits.", r.status as f64),
        gauge(
            "loop_time_constant",
            "Phase-locked loop time constant.",
            r.constant as f64,
        ),
        gauge(
            "tick_seconds",
            "Seconds between clock ticks.",
            r.tick as f64 / MICROSECONDS,
        ),
        gauge(
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            r.ppsfreq as f64 / PPM16FRAC,
        ),
        gauge(
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            r.jitter as f64 / divisor,
        ),
        gauge(
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            r.shift as f64,
        ),
        gauge(
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            r.stabil as f64 / PPM16FRAC,
        ),
        counter(
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            r.jitcnt,
        ),
        counter(
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            r.calcnt,
        ),
        counter(
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            r.errcnt,
        ),
        counter(
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            r.stbcnt,
        ),
        gauge(
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            r.tai as f64,
        ),
    ]
}

impl Collector for Timex {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        match adjtimex() {
            Ok(reading) => {
                out.extend(families(&reading));
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::debug!(err = %err, "Not collecting timex metrics");
                Err(CollectorError::NoData)
            }
            Err(err) => Err(CollectorError::Other(format!(
                "failed to retrieve adjtimex stats: {err}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(families: &[MetricFamily], name: &str) -> f64 {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .samples[0]
            .value
    }

    #[test]
    fn converts_units_as_upstream() {
        let reading = Reading {
            state: 0,
            offset: 1500,
            freq: 65536 * 10, // +10 ppm
            maxerror: 16_000_000,
            esterror: 250,
            status: 0x2001, // PLL | NANO
            constant: 7,
            tick: 10_000,
            ppsfreq: 65536,
            jitter: 2000,
            shift: 4,
            stabil: 65536 * 2,
            jitcnt: 1,
            calcnt: 2,
            errcnt: 3,
            stbcnt: 4,
            tai: 37,
        };
        let families = families(&reading);
        assert_eq!(families.len(), 17);
        assert_eq!(value(&families, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&families, "node_timex_offset_seconds"), 1500.0 / 1e9);
        assert_eq!(
            value(&families, "node_timex_pps_jitter_seconds"),
            2000.0 / 1e9
        );
        assert_eq!(
            value(&families, "node_timex_frequency_adjustment_ratio"),
            1.00001
        );
        assert_eq!(value(&families, "node_timex_maxerror_seconds"), 16.0);
        assert_eq!(value(&families, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&families, "node_timex_pps_frequency_hertz"), 1e-6);
        assert_eq!(value(&families, "node_timex_tai_offset_seconds"), 37.0);

        let microseconds = Reading {
            state: TIME_ERROR,
            offset: 1500,
            ..reading
        };
        let microseconds = super::families(&Reading {
            status: 1,
            ..microseconds
        });
        assert_eq!(value(&microseconds, "node_timex_sync_status"), 0.0);
        assert_eq!(value(&microseconds, "node_timex_offset_seconds"), 0.0015);
    }

    #[test]
    fn reads_the_live_clock() {
        let mut out = Vec::new();
        Timex
            .update(&mut out)
            .expect("adjtimex works without privileges");
        assert_eq!(out.len(), 17);
        // The kernel tick (1/HZ, HZ between 100 and 1000) is between 1 and 10 ms.
        let tick = value(&out, "node_timex_tick_seconds");
        assert!((0.001..=0.0101).contains(&tick), "tick {tick}");
        let sync = value(&out, "node_timex_sync_status");
        assert!(sync == 0.0 || sync == 1.0);
    }
}
