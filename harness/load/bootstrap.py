"""Import Locust (and so gevent's monkey-patching) before anything imports ssl or sockets.

gevent must patch ``ssl``, ``socket`` and friends before they are first imported, or TLS
contexts recurse forever (``RecursionError`` in ``SSLContext.minimum_version``). Every entry
point that runs a generator imports this module first.
"""

from __future__ import annotations

import locust  # noqa: F401  -- imported for its side effect: gevent.monkey.patch_all()
