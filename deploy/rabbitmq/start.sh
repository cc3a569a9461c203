#!/bin/sh
# Render rabbitmq.conf from the environment, create the hub's account once the node runs,
# then stay in the foreground as the node (docs/adr/0145).
set -eu
: "${RABBITMQ_ADMIN_PASSWORD:?}" "${BROKER_AUTH_TOKEN:?}" "${HUB_MQTT_PASSWORD:?}"
sed -e "s|@RABBITMQ_ADMIN_PASSWORD@|${RABBITMQ_ADMIN_PASSWORD}|" \
    -e "s|@BROKER_AUTH_TOKEN@|${BROKER_AUTH_TOKEN}|g" \
    /etc/teleassist/rabbitmq.conf > /etc/rabbitmq/rabbitmq.conf
chmod 600 /etc/rabbitmq/rabbitmq.conf
(
  # The hub's account (internal, all permissions on /): idempotent, from whichever node is up.
  until rabbitmqctl await_startup >/dev/null 2>&1; do sleep 2; done
  rabbitmqctl add_user hub "${HUB_MQTT_PASSWORD}" >/dev/null 2>&1 \
    || rabbitmqctl change_password hub "${HUB_MQTT_PASSWORD}" >/dev/null
  rabbitmqctl set_permissions -p / hub ".*" ".*" ".*" >/dev/null
) &
exec rabbitmq-server
