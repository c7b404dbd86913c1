//! The database and the MariaDB accounts of the app and the mysqld exporter, and the app's own
//! secrets.

use std::path::{Path, PathBuf};

use crate::error::TestbedError;
use crate::files::write_file;
use crate::mariadb::MariaDb;

pub(super) const APP_DATABASE: &str = "usuarios";
pub(super) const APP_USER: &str = "octo";
pub(super) const EXPORTER_USER: &str = "exporter";
/// The user adding and deleting users needs, as in Compose and Kubernetes.
pub const ADMIN_USER: &str = "admin";

/// New passwords of the stack's accounts, set at every start.
pub(super) struct Passwords {
    pub app: String,
    pub exporter: String,
}

/// 18 random bytes in hex; all zeros if `/dev/urandom` cannot be read, which only weakens the
/// passwords of a stack that listens on loopback.
pub(super) fn random_secret() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 18];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The app's secrets, in files as Compose and Kubernetes hand them over: the key both
/// instances sign CSRF tokens with (so a form served by one is accepted by the other) and the
/// admin password, new at every start.
pub(super) struct AppSecrets {
    pub csrf_key_file: PathBuf,
    pub admin_password_file: PathBuf,
    pub admin_password: String,
}

/// Writes the app's secrets into `dir` (the stack's private temporary directory).
pub(super) fn write_app_secrets(dir: &Path) -> Result<AppSecrets, TestbedError> {
    let secrets = AppSecrets {
        csrf_key_file: dir.join("app-csrf-key"),
        admin_password_file: dir.join("app-admin-password"),
        admin_password: random_secret(),
    };
    // 72 hex digits: over the app's 32-byte minimum.
    write_file(
        &secrets.csrf_key_file,
        &format!("{}{}", random_secret(), random_secret()),
    )?;
    write_file(&secrets.admin_password_file, &secrets.admin_password)?;
    Ok(secrets)
}

/// Creates the app's database and both accounts if missing, and gives them new passwords.
pub(super) async fn create(mariadb: &MariaDb) -> Result<Passwords, TestbedError> {
    let passwords = Passwords {
        app: random_secret(),
        exporter: random_secret(),
    };
    let Passwords { app, exporter } = &passwords;
    mariadb
        .sql(&format!(
            "CREATE DATABASE IF NOT EXISTS {APP_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n\
             CREATE USER IF NOT EXISTS '{APP_USER}'@'%' IDENTIFIED BY '{app}';\n\
             ALTER USER '{APP_USER}'@'%' IDENTIFIED BY '{app}';\n\
             GRANT ALL ON {APP_DATABASE}.* TO '{APP_USER}'@'%';\n\
             CREATE USER IF NOT EXISTS '{EXPORTER_USER}'@'%' IDENTIFIED BY '{exporter}' WITH MAX_USER_CONNECTIONS 3;\n\
             ALTER USER '{EXPORTER_USER}'@'%' IDENTIFIED BY '{exporter}';\n\
             GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO '{EXPORTER_USER}'@'%';\n\
             FLUSH PRIVILEGES;"
        ))
        .await?;
    Ok(passwords)
}
