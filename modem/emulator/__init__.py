"""A GSM modem emulator on pseudo-terminals (TS 27.005 / 27.007 AT commands, TS 23.040 PDUs).

Python API: `modem.emulator.bank.Bank`; command line: `modem.emulator.cli.main` (`hoso sim ...`,
`python -m modem.emulator ...`). The AT interpreter (`device.EmulatedModem`) does no I/O and can be
driven directly in unit tests with `schedule.ManualScheduler`.
"""
