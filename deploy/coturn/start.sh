#!/bin/sh
# Start coturn with deploy/coturn/turnserver.conf plus the shared secret, read from the
# file $TURN_SECRET_FILE (default /run/secrets/turn_secret) or else $TURN_SECRET, so that
# the secret is neither in the repository nor on turnserver's command line (ps shows it).
# Extra arguments go to turnserver. Refuses to start without a secret of 32+ characters.
set -eu
conf=${TURN_CONFIG:-/etc/coturn/turnserver.conf}
secret_file=${TURN_SECRET_FILE:-/run/secrets/turn_secret}
if [ -r "$secret_file" ]; then
    secret=$(head -n 1 "$secret_file")
else
    secret=${TURN_SECRET:-}
fi
if [ "${#secret}" -lt 32 ]; then
    echo "coturn: set TURN_SECRET (or $secret_file) to a random secret of 32+ characters" >&2
    exit 2
fi
case $secret in
    *[!A-Za-z0-9._~+/=-]*)
        echo "coturn: the TURN secret may hold only letters, digits and ._~+/=-" >&2
        exit 2 ;;
esac
umask 077
dir=$(mktemp -d "${TMPDIR:-/tmp}/coturn.XXXXXX")
cp "$conf" "$dir/turnserver.conf"
printf 'static-auth-secret=%s\n' "$secret" >> "$dir/turnserver.conf"
unset TURN_SECRET secret
exec turnserver -c "$dir/turnserver.conf" "$@"
