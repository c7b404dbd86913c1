//! The collectors: one module per upstream collector. [`crate::registry`] lists them with their
//! names and defaults; a collector imports helpers and the kit, never another collector.

pub mod compat;
#[cfg(test)]
pub(crate) mod testing;

pub mod arp;
pub mod bonding;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod dmi;
pub mod edac;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod interrupts;
pub mod loadavg;
pub mod logind;
pub mod mdadm;
pub mod meminfo;
pub mod mountstats;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nfs;
pub mod nfsd;
pub mod nvme;
pub mod os;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod systemd;
pub mod tcpstat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod watchdog;
