"""``litetel-gateway`` / ``python -m litetel_gateway``: run the gateway until SIGTERM.

    litetel-gateway --listen 127.0.0.1:8080 --data-dir ./gateway-data --keys keys.toml \
        --otlp-endpoint http://127.0.0.1:4318
"""

import asyncio
import logging
import sys

from litetel_gateway.config import load_config
from litetel_gateway.keys import KeyFileError


def main(argv=None):
    """Console entry point; returns the exit code (0 after a clean SIGTERM shutdown)."""
    try:
        config = load_config(argv)
    except ValueError as exc:
        print("litetel-gateway: %s" % exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from litetel_gateway.server import serve  # after logging: imports aiohttp/protobuf

    try:
        return asyncio.run(serve(config))
    except KeyFileError as exc:
        logging.getLogger("litetel_gateway").error("cannot start: %s", exc)
        return 2
    except OSError as exc:  # e.g. the port is taken, the data dir is not writable
        logging.getLogger("litetel_gateway").error("cannot start: %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
