import assert from 'node:assert/strict'
import { test } from 'node:test'
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.js'

test('float32ToFloat16Bits encodes known values with round-to-nearest-even', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up past the largest half
    [1e9, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // below half of it
    [1 + 2 ** -11, 0x3c00], // tie goes to even
    [1 + 3 * 2 ** -11, 0x3c02],
  ]
  for (const [value, bits] of cases) assert.equal(float32ToFloat16Bits(value), bits, `encoding ${value}`)
  assert.equal(float32ToFloat16Bits(Number.NaN) & 0x7c00, 0x7c00)
  assert.notEqual(float32ToFloat16Bits(Number.NaN) & 0x3ff, 0)
})

test('every finite half value survives a decode/encode round trip', () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    if ((bits & 0x7c00) === 0x7c00) continue
    assert.equal(float32ToFloat16Bits(float16BitsToFloat32(bits)), bits)
  }
})
