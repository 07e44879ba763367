"""gevent's own server, monkey-patched first, as gevent users run it.

    python tests/core/gevent_server.py PORT
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402 - after patching, as gevent requires
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gevent.pywsgi import WSGIServer  # noqa: E402

from tests.core.greenlet_app import wsgi  # noqa: E402

if __name__ == "__main__":
    WSGIServer(("127.0.0.1", int(sys.argv[1])), wsgi, log=None).serve_forever()
