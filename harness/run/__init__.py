"""``harness run`` and ``harness calibrate``: the whole chain on one machine.

This package orchestrates the subsystems — it starts reference-server process groups, applies a
scenario's fault timeline, drives the load, simulates the same window and puts prediction beside
measurement — so it sits above them in the layers (``cli`` → ``run`` → ``server | simulation |
load | reports | gate``). Like every package but ``harness.load`` it never imports Locust or
gevent itself.
"""
