"""The pure domain core: dossiers, statuses, events, codes. No I/O, no clock, no environment."""
