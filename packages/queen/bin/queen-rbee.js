#!/usr/bin/env node
// Installed as the `queen-rbee` command; the compiled entry point is built by `tsc -b` at install.
import '../dist/main.js'
