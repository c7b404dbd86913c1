//! The open-file limit, raised so that cgroup directories can stay open.

/// Descriptors kept free for what is not a cgroup directory: connections, the engines' sockets,
/// the file being read, inotify, the runtime's own.
const FD_RESERVE: u64 = 256;

/// Raises the soft open-file limit to the hard one, as Go programs (cAdvisor among them) do at
/// start-up, and returns how many cgroup directories may stay open within it.
pub fn raise_open_file_limit() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let limit = if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(err) => {
                tracing::debug!(soft, hard, error = %err, "cannot raise the open-file limit");
                soft
            }
        }
    } else {
        soft
    };
    usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX)
}
