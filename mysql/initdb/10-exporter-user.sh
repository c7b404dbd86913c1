#!/bin/sh
# Runs once, when the MariaDB container initialises an empty data directory: creates the
# account octo-mysqld-exporter uses, with the least privileges its default scrapers need
# (SLAVE MONITOR for replication status on MariaDB >= 10.5.9), and a connection cap so the
# exporter can never crowd out the application.
#
# The root password reaches the client through an option file only readable by this user,
# never on a command line (where `ps` and /proc/<pid>/cmdline show it to every user of the
# host); `printf` is a shell builtin, so it runs no process with the password either. The
# exporter's password travels in the SQL on standard input. SECRETS_DIR is for tests.
set -eu
secrets="${SECRETS_DIR:-/run/secrets}"
umask 077
options="$(mktemp)"
trap 'rm -f "$options"' EXIT
root_password="$(cat "$secrets/mysql_root_password")"
password="$(cat "$secrets/mysqld_exporter_password")"
printf '[client]\nuser=root\npassword="%s"\n' "$root_password" > "$options"
mariadb --defaults-extra-file="$options" --protocol=socket <<SQL
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${password}' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'%';
FLUSH PRIVILEGES;
SQL
