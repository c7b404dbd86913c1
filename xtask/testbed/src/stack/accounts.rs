//! The database and the MariaDB accounts of the app and the mysqld exporter.

use crate::error::TestbedError;
use crate::mariadb::MariaDb;

pub(super) const APP_DATABASE: &str = "usuarios";
pub(super) const APP_USER: &str = "octo";
pub(super) const EXPORTER_USER: &str = "exporter";

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
