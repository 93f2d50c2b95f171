import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import type { CliContext } from './context.js'
import { bufferOutput } from './output.js'
import { runCli } from './run-cli.js'

function ctx(env: Record<string, string> = {}): CliContext & { out: ReturnType<typeof bufferOutput> } {
  return {
    env: { RBEE_HOME: '/nonexistent/rbee-home', RBEE_CONFIG_DIR: '/nonexistent/rbee-config', ...env },
    out: bufferOutput(),
    signal: new AbortController().signal,
    cwd: '/',
    home: '/nonexistent',
    readStdin: async () => '',
  }
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe('rbee exit codes and messages', () => {
  test('--version and --help succeed', async () => {
    const c = ctx()
    assert.equal(await runCli(['--version'], c), 0)
    assert.match(c.out.out, /^rbee \d+\.\d+\.\d+\n$/)
    const h = ctx()
    assert.equal(await runCli(['--help'], h), 0)
    assert.match(h.out.out, /hive install/)
  })

  test('an unknown command, an unknown subcommand and a bare group are usage errors (exit 2)', async () => {
    const a = ctx()
    assert.equal(await runCli(['frobnicate'], a), 2)
    assert.match(a.out.err, /unknown command 'frobnicate'\nUsage: /)
    const b = ctx()
    assert.equal(await runCli(['hive', 'explode'], b), 2)
    assert.match(b.out.err, /rbee hive: unknown command 'explode'\nUsage: rbee hive list\|status\|start/)
    const c = ctx()
    assert.equal(await runCli(['queen'], c), 2)
    assert.match(c.out.err, /^Usage: rbee queen COMMAND/)
    assert.match(c.out.err, /queen start +Start queen-rbee/)
  })

  test('bad flags and values give exit code 2 with one error line and one usage line', async () => {
    for (const argv of [
      ['infer', '--bogus', 'hi'],
      ['infer', '--max-tokens', 'lots', 'hi'],
      ['infer', '--temperature', '9', 'hi'],
      ['infer', '-m', 'hf:nope', 'hi'],
      ['infer'],
      ['worker', 'spawn', '--backend', 'tpu'],
      ['worker', 'spawn', '--device', '0,0'],
      ['worker', 'spawn', '--device', 'gpu1'],
      ['doctor', '--backend-probe', 'none'],
      ['model', 'download', 'not-hf'],
      ['status', 'extra'],
    ]) {
      const c = ctx()
      assert.equal(await runCli(argv, c), 2, argv.join(' '))
      const lines = c.out.err.trimEnd().split('\n')
      assert.equal(lines.length, 2, `${argv.join(' ')}: ${c.out.err}`)
      assert.match(lines[0]!, new RegExp(`^rbee ${argv[0]}`))
      assert.match(lines[1]!, /^Usage: rbee /)
      assert.equal(c.out.out, '')
    }
  })

  test('infer --priority takes low, normal, high or -100..100 and refuses anything else by name', async () => {
    const c = ctx()
    assert.equal(await runCli(['infer', '--priority', 'urgent', 'hi'], c), 2)
    assert.match(c.out.err, /^rbee infer: --priority: /)
  })

  test('a command that needs a queen fails with exit 1 and one line saying how to start one', async () => {
    const c = ctx({ RBEE_QUEEN_URL: `http://127.0.0.1:${await closedPort()}` })
    assert.equal(await runCli(['status'], c), 1)
    assert.match(
      c.out.err,
      /^rbee: no queen answers at http:\/\/127\.0\.0\.1:\d+: start it with: rbee queen start\n$/,
    )
  })

  test('--verbose adds the error code and its cause', async () => {
    const c = ctx({ RBEE_QUEEN_URL: `http://127.0.0.1:${await closedPort()}` })
    assert.equal(await runCli(['status', '--verbose'], c), 1)
    assert.match(c.out.err, /code: RBEE_UNREACHABLE/)
    assert.match(c.out.err, /caused by: cannot reach/)
  })

  test('queen status says not running with exit code 1', async () => {
    const c = ctx({ RBEE_QUEEN_URL: `http://127.0.0.1:${await closedPort()}` })
    assert.equal(await runCli(['queen', 'status'], c), 1)
    assert.match(c.out.out, /not running/)
  })

  test('a queen URL that is not http is a clear error', async () => {
    const c = ctx({ RBEE_QUEEN_URL: 'ftp://x' })
    assert.equal(await runCli(['status'], c), 1)
    assert.match(c.out.err, /must start with http/)
  })

  test('rbee config shows the paths in effect', async () => {
    const c = ctx({ RBEE_QUEEN_URL: 'http://10.1.2.3:9000' })
    assert.equal(await runCli(['config', '--json'], c), 0)
    const report = JSON.parse(c.out.out) as Record<string, unknown>
    assert.equal(report.queen_url, 'http://10.1.2.3:9000')
    assert.equal(report.queen_url_from, 'RBEE_QUEEN_URL')
    assert.equal(report.data_dir, '/nonexistent/rbee-home')
    assert.equal(report.hives_conf, '/nonexistent/rbee-config/hives.conf')
    assert.equal(report.queen_pid_file, '/nonexistent/rbee-home/queen.pid')
  })
})

describe('--model forms', () => {
  test('hf: references, paths and catalog ids are told apart', async () => {
    const { looksLikePath } = await import('../commands/infer.js')
    assert.equal(looksLikePath('hf:acme/repo:file.Q4_K_M.gguf'), false)
    assert.equal(looksLikePath('tiny'), false)
    assert.equal(looksLikePath('./m.gguf'), true)
    assert.equal(looksLikePath('/models/m'), true)
    assert.equal(looksLikePath('model.gguf'), true)
  })
})
