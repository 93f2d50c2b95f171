#!/usr/bin/env node
// rbee: the only place that reads argv and the environment, handles signals, and exits.
import { homedir } from 'node:os'
import type { Output } from './cli/output.js'
import { runCli } from './cli/run-cli.js'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const env = { ...process.env }
  const noColor = argv.includes('--no-color') || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')
  const out: Output = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    // Colour only when a person reads both streams: `rbee status | less` gets plain text.
    color: !noColor && process.stdout.isTTY === true && process.stderr.isTTY === true && env.TERM !== 'dumb',
    columns: process.stderr.columns || 80,
  }
  const controller = new AbortController()
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++
    // A second Ctrl+C does not wait for the cancel to be acknowledged.
    if (signals > 1) process.exit(130)
    controller.abort(new Error(`interrupted (${sig})`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // A closed pipe (`rbee infer … | head -1`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
  })
  // Library timers (backoff delays, polling) are unref'd; the CLI must not exit while one of
  // them is all that is pending, so the command holds the event loop open until it finishes.
  const keepAlive = setInterval(() => {}, 1 << 30)
  try {
    return await runCli(argv, {
      env,
      out,
      signal: controller.signal,
      cwd: process.cwd(),
      home: homedir(),
      readStdin,
    })
  } finally {
    clearInterval(keepAlive)
  }
}

main().then(
  (code) => {
    process.exitCode = code
    // Pooled sockets and watchers are closed by the commands; this catches any straggler.
    setTimeout(() => process.exit(code), 100).unref()
  },
  (err: unknown) => {
    process.stderr.write(`rbee: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
