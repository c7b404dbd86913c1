#!/bin/sh
# Runs once, when the MariaDB container initialises an empty data directory: creates the
# account octo-mysqld-exporter uses, with the least privileges its default scrapers need
# (SLAVE MONITOR for replication status on MariaDB >= 10.5.9), and a connection cap so the
# exporter can never crowd out the application.
set -eu
password="$(cat /run/secrets/mysqld_exporter_password)"
mariadb --protocol=socket -uroot -p"$(cat /run/secrets/mysql_root_password)" <<SQL
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${password}' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'%';
FLUSH PRIVILEGES;
SQL
