"""MESH, the Message Exchange for Social Care and Health: asynchronous mailboxes.

Organisations post files to each other's mailboxes; a recipient polls its inbox, downloads
(in chunks, gzip passed through untouched) and acknowledges. Authentication is the NHSMESH
HMAC scheme with single-use tokens; messages nobody collects are reported back to the sender
after five days and deleted after thirty.
"""
