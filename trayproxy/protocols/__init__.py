"""Pure protocol converters: dicts in, dicts/bytes out. No I/O, no clock, no implicit randomness."""
