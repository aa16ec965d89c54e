"""moto's server for the test command, with DynamoDB requests handled one at a time.

DynamoDB applies each request atomically: an UpdateItem's ADD, a conditional put, a
TransactWriteItems. moto's threaded server runs concurrent requests against the same
in-memory table without a lock, so under load it loses counter increments and interleaves
transactions, and the contract tests that race writes fail for moto's sake rather than ours.
Serialising DynamoDB calls restores the per-request atomicity the real service guarantees;
SQS calls stay concurrent (a long poll must not hold up the rest).

Usage: python tools/moto_serialised.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

_dynamodb = threading.Lock()


class DynamoDbOneAtATime:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb:
                # Produce the whole response while holding the lock.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        DynamoDbOneAtATime(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
