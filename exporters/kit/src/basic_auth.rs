//! Basic authentication against bcrypt hashes, kept from starving: verified passwords are
//! remembered (so a known scraper is answered without bcrypt), wrong ones are not (so they cannot
//! push a known one out), and bcrypt runs one check at a time behind a bounded queue, past which
//! a request is turned away at once rather than made to wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::HeaderValue;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// A bcrypt hash of a random password nobody knows: unknown users are checked against it so
/// that answering them takes as long as answering known ones.
const UNKNOWN_USER_HASH: &str = "$2y$10$tKXqombO.ja88/44XCnV5uz79K.nPFLaccTYHKeopqD5AcogMSxke";

/// Verified passwords remembered; past it, the one unused longest is forgotten. Only passwords
/// that matched are kept, so only clients that know one can fill it.
const VERIFIED_LIMIT: usize = 1024;

/// bcrypt checks running or waiting for their turn. At htpasswd's cost 10 one check takes some
/// 50 ms, so the last in line waits under a second; a request beyond the queue is answered 429.
pub(crate) const BCRYPT_QUEUE_LIMIT: usize = 16;

/// What a password check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The password matches the user's hash.
    Verified,
    /// Wrong password, unknown user, or no credentials.
    Refused,
    /// Too many bcrypt checks are waiting: try again later.
    Busy,
}

/// Checks basic-auth credentials against bcrypt hashes.
#[derive(Debug)]
pub(crate) struct PasswordChecker {
    verified: Arc<Mutex<Verified>>,
    queue: Arc<Semaphore>,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Default for PasswordChecker {
    fn default() -> Self {
        PasswordChecker {
            verified: Arc::default(),
            queue: Arc::new(Semaphore::new(BCRYPT_QUEUE_LIMIT)),
            turn: Arc::default(),
        }
    }
}

impl PasswordChecker {
    /// Forgets every verified password (the users changed).
    pub(crate) fn forget(&self) {
        lock(&self.verified).clear();
    }

    /// Checks an `Authorization` header against `users` (user name to bcrypt hash).
    pub(crate) async fn check(
        &self,
        users: &HashMap<String, String>,
        authorization: Option<&HeaderValue>,
    ) -> Verdict {
        let Some((user, password)) = authorization.and_then(parse_basic_auth) else {
            return Verdict::Refused;
        };
        let known_hash = users.get(&user);
        let hash = known_hash
            .map_or(UNKNOWN_USER_HASH, String::as_str)
            .to_owned();
        let key = cache_key(&user, &hash, &password);
        if lock(&self.verified).touch(&key) {
            return Verdict::Verified;
        }
        let Ok(place) = self.queue.clone().try_acquire_owned() else {
            return Verdict::Busy;
        };
        // One bcrypt at a time (as the toolkit does): a flood of wrong passwords costs one core,
        // not all of them. The turn and the place in the queue go to the blocking thread, so a
        // client that leaves mid-check does not let the next check start beside it.
        let turn = self.turn.clone().lock_owned().await;
        let known = known_hash.is_some();
        let verified = self.verified.clone();
        tokio::task::spawn_blocking(move || {
            let matches = bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false) && known;
            if matches {
                lock(&verified).insert(key);
            }
            drop((turn, place));
            if matches {
                Verdict::Verified
            } else {
                Verdict::Refused
            }
        })
        .await
        .unwrap_or(Verdict::Refused)
    }
}

/// Verified credentials by hash of (user, bcrypt hash, password), with the tick of their last use.
#[derive(Debug, Default)]
struct Verified {
    last_used: HashMap<[u8; 32], u64>,
    tick: u64,
}

impl Verified {
    fn touch(&mut self, key: &[u8; 32]) -> bool {
        self.tick += 1;
        let tick = self.tick;
        self.last_used
            .get_mut(key)
            .map(|used| *used = tick)
            .is_some()
    }

    fn insert(&mut self, key: [u8; 32]) {
        if self.last_used.len() >= VERIFIED_LIMIT && !self.last_used.contains_key(&key) {
            let oldest = self
                .last_used
                .iter()
                .min_by_key(|(_, used)| **used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                self.last_used.remove(&oldest);
            }
        }
        self.tick += 1;
        self.last_used.insert(key, self.tick);
    }

    fn clear(&mut self) {
        self.last_used.clear();
    }
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part);
    }
    digest.finalize().into()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn parse_basic_auth(value: &HeaderValue) -> Option<(String, String)> {
    use base64::Engine as _;
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_forgets_the_password_unused_longest() {
        let mut verified = Verified::default();
        let key = |i: usize| cache_key("u", "h", &i.to_string());
        for i in 0..VERIFIED_LIMIT {
            verified.insert(key(i));
        }
        assert!(
            verified.touch(&key(0)),
            "0 is used again: now the most recent"
        );
        verified.insert(key(VERIFIED_LIMIT));
        assert_eq!(verified.last_used.len(), VERIFIED_LIMIT);
        assert!(verified.touch(&key(0)));
        assert!(!verified.touch(&key(1)), "1 was the one unused longest");
        assert!(verified.touch(&key(VERIFIED_LIMIT)));
    }

    #[tokio::test]
    async fn wrong_passwords_are_not_remembered_and_the_queue_is_bounded() {
        use base64::Engine as _;
        let header = |user: &str, pass: &str| {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            HeaderValue::from_str(&format!("Basic {token}")).unwrap()
        };
        let users: HashMap<String, String> =
            [("u".to_owned(), bcrypt::hash("pw", 4).unwrap())].into();
        let checker = PasswordChecker::default();
        assert_eq!(
            checker.check(&users, Some(&header("u", "pw"))).await,
            Verdict::Verified
        );
        assert_eq!(
            checker.check(&users, Some(&header("u", "no"))).await,
            Verdict::Refused
        );
        assert_eq!(lock(&checker.verified).last_used.len(), 1);

        // Every place in the queue taken: a new check is turned away, a verified one is not.
        let taken: Vec<_> = (0..BCRYPT_QUEUE_LIMIT)
            .map(|_| checker.queue.clone().try_acquire_owned().unwrap())
            .collect();
        assert_eq!(
            checker.check(&users, Some(&header("u", "no"))).await,
            Verdict::Busy
        );
        assert_eq!(
            checker.check(&users, Some(&header("u", "pw"))).await,
            Verdict::Verified
        );
        drop(taken);
        assert_eq!(
            checker.check(&users, Some(&header("u", "no"))).await,
            Verdict::Refused
        );
    }
}
