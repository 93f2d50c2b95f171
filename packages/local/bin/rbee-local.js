#!/usr/bin/env node
// Installed as the `rbee-local` command; the compiled entry point is built by `tsc -b` at install.
import '../dist/main.js'
