"""Coverage-guided fuzz targets (atheris) for everything that parses bytes from a modem or a
scanner, or text from a citizen.

Each module `fuzz/<target>.py` has `TestOneInput(data: bytes)`, which raises only when the code
under test misbehaves (an exception other than its documented error, or a broken invariant), and
a `main()` that runs it under atheris; atheris is imported in `main()` only, so the suite can call
`TestOneInput` on the seed corpus (`fuzz/corpus/<target>/`) without it. Run them with
`make fuzz` or `python -m fuzz.run --seconds 60 [target ...]`.
"""
