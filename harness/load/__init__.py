"""The load driver: an open-model generator that plays the Spine traffic profile under Locust.

This is the only package that imports Locust, and importing Locust monkey-patches the whole
process with gevent: import it lazily, inside the command that needs it, and never in a process
that also runs the reference server (uvicorn on uvloop hangs under gevent).
"""
