"""The Summary Care Record: upload, find, read, and the access rules around them."""
