"""The Spine Directory Service: accredited systems and endpoints of every organisation."""
