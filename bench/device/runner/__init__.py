"""edgebench's on-device runner: the package that is copied to devices."""
