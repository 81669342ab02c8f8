"""The Personal Demographics Service: a derived population of patients with stored updates."""
