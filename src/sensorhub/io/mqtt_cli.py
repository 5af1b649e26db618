"""The broker options shared by the commands that connect to MQTT (``serve``, ``fallback``).

``add_broker_arguments`` adds the "broker" group (address, client id, login, TLS) to a command's
parser, and ``mqtt_settings`` turns what was given, with the password from a file or the
environment, into ``MqttSettings``. One definition, so every command reads the same options the
same way.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from sensorhub.io.mqtt import PASSWORD_ENV, MqttSettings, MqttSettingsError, TlsSettings

logger = logging.getLogger(__name__)


def add_broker_arguments(
    parser: argparse.ArgumentParser,
    *,
    broker_help: str,
    client_id_default: str,
    client_id_help: str,
    broker_required: bool = False,
) -> None:
    """Add the "broker" option group: --broker, --client-id, --username, --password-file, TLS."""
    where = parser.add_argument_group("broker")
    where.add_argument("--broker", metavar="URL", required=broker_required, help=broker_help)
    where.add_argument("--client-id", default=client_id_default, help=client_id_help)
    where.add_argument("--username", help="user name at the broker")
    where.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help=f"read the broker password from FILE (else from ${PASSWORD_ENV})",
    )
    where.add_argument("--tls", action="store_true", help="use TLS (implied by mqtts://)")
    where.add_argument("--cafile", help="CA certificate(s) to check the broker with (PEM)")
    where.add_argument("--certfile", help="client certificate (PEM), if the broker asks one")
    where.add_argument("--keyfile", help="key of the client certificate (PEM)")
    where.add_argument(
        "--tls-insecure",
        action="store_true",
        help="do not check that the broker's certificate names its host (test setups only)",
    )


def mqtt_settings(args: argparse.Namespace, url: str) -> MqttSettings:
    """Broker settings from the command line and the environment; MqttSettingsError if wrong."""
    password: str | None = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise MqttSettingsError(
                f"cannot read the password file {args.password_file}: {error.strerror}"
            ) from None
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    tls: TlsSettings | None = None
    if args.tls or args.cafile or args.certfile or args.keyfile or args.tls_insecure:
        for name in ("cafile", "certfile", "keyfile"):
            value = getattr(args, name)
            if value and not Path(value).is_file():
                raise MqttSettingsError(f"--{name} {value}: no such file")
        if args.keyfile and not args.certfile:
            raise MqttSettingsError("--keyfile needs --certfile (the client certificate)")
        tls = TlsSettings(args.cafile, args.certfile, args.keyfile, args.tls_insecure)
        if args.tls_insecure:
            logger.warning(
                "--tls-insecure: the broker's certificate is not checked against its host name"
            )
    return MqttSettings.from_url(
        url, client_id=args.client_id, username=args.username, password=password, tls=tls
    )
