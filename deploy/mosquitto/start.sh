#!/bin/sh
# Start Mosquitto with deploy/mosquitto/mosquitto.conf and make it re-read its password files
# and ACL whenever the hub rewrites them. The hub runs in another container (another user,
# another process namespace) and cannot signal the broker, so this script watches the files
# the configuration names (password_file, acl_file) and sends Mosquitto a SIGHUP when their
# content changes: a device added after start can connect within MOSQUITTO_WATCH_S seconds.
# Until the hub has written them once the broker cannot start (no password file), so it waits.
set -eu
conf=${MOSQUITTO_CONFIG:-/mosquitto/config/mosquitto.conf}
every=${MOSQUITTO_WATCH_S:-2}
files=$(awk '$1 == "password_file" || $1 == "acl_file" { print $2 }' "$conf" | sort -u)
if [ -z "$files" ]; then
    echo "mosquitto: $conf names no password_file or acl_file to watch" >&2
    exit 2
fi

digest() {
    # A file that is missing digests as nothing; the hub replaces files atomically.
    for f in $files; do
        if [ -r "$f" ]; then cksum < "$f"; else echo "missing $f"; fi
    done
}

for f in $files; do
    while [ ! -r "$f" ]; do
        echo "mosquitto: waiting for the hub to write $f" >&2
        sleep "$every"
    done
done

mosquitto -c "$conf" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit $?' TERM INT
last=$(digest)
while kill -0 "$pid" 2>/dev/null; do
    sleep "$every" &
    wait $! || true
    now=$(digest)
    if [ "$now" != "$last" ]; then
        last=$now
        kill -HUP "$pid"
        echo "mosquitto: password files or ACL changed; reloaded" >&2
    fi
done
wait "$pid"
