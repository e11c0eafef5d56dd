"""The command line, `mesonet`: parsing, the commands' output, and where detect and evaluate run."""
