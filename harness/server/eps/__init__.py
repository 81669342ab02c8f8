"""The Electronic Prescription Service: prescribing, dispensing and the state machine."""
