import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { bufferOutput } from './output.js'
import { NarrationView, renderBar } from './progress-bar.js'
import { formatAge, formatBytes, formatMb, renderTable } from './table.js'

const n = (human: string, progress?: number) => ({
  actor: 'rbee-hive',
  action: 'download_progress',
  human,
  progress,
})

describe('progress and tables', () => {
  test('a bar shows the fraction done', () => {
    assert.equal(renderBar(0.5, 10), '[#####-----]  50%')
    assert.equal(renderBar(2, 4), '[####] 100%')
  })

  test('on a terminal progress redraws one line; a later line starts fresh', () => {
    const out = bufferOutput({ stderrIsTTY: true })
    const v = new NarrationView(out)
    v.show(n('a.gguf: 1 MiB / 4 MiB (25%)', 0.25))
    v.show(n('a.gguf: 2 MiB / 4 MiB (50%)', 0.5))
    v.line('done')
    assert.equal(out.err.split('\r').length, 3)
    assert.match(out.err, /\[#{12}-{12}\] {2}50% a\.gguf: 2 MiB/)
    assert.ok(out.err.endsWith('\ndone\n'))
  })

  test('in a pipe progress is printed once per tenth', () => {
    const out = bufferOutput()
    const v = new NarrationView(out)
    for (let i = 0; i <= 100; i++) v.show(n(`p ${i}%`, i / 100))
    const lines = out.err.trimEnd().split('\n')
    assert.deepEqual(lines, [
      'p 0%',
      'p 10%',
      'p 20%',
      'p 30%',
      'p 40%',
      'p 50%',
      'p 60%',
      'p 70%',
      'p 80%',
      'p 90%',
      'p 100%',
    ])
  })

  test('tables align columns; units are human', () => {
    const t = renderTable(
      { color: false },
      ['ID', 'STATE'],
      [
        ['a', 'up'],
        ['long-id', 'down'],
      ],
    )
    assert.equal(t, 'ID       STATE\na        up\nlong-id  down\n')
    assert.equal(formatMb(512), '512 MiB')
    assert.equal(formatMb(16_000), '15.6 GiB')
    assert.equal(formatBytes(1536), '1.50 KiB')
    assert.equal(formatAge(3725), '1h02m')
  })
})
