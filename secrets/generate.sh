#!/bin/sh
# Creates the secrets compose.yml mounts, with random values, unless they already exist.
# app_admin_password is what adding and deleting users asks for (user `admin`).
# Run once before `docker compose up -d`. The files stay on this machine (see .gitignore).
set -eu
cd "$(dirname "$0")"
umask 077
random() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }
for name in mysql_root_password mysql_password mysqld_exporter_password grafana_admin_password \
            app_admin_password; do
    [ -s "$name" ] || random > "$name"
done
# The key both app instances sign CSRF tokens with (at least 32 bytes; this is 64 characters).
[ -s app_csrf_key ] || head -c 48 /dev/urandom | base64 | tr -d '\n' > app_csrf_key
[ -e alertmanager_webhook_token ] || random > alertmanager_webhook_token
if [ ! -s mysqld_exporter.my.cnf ]; then
    printf '[client]\nuser = exporter\npassword = %s\n' "$(cat mysqld_exporter_password)" > mysqld_exporter.my.cnf
fi
echo "secrets ready in $(pwd)"
