import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSize, parseSize } from '../../src/config/size.js';

test('parseSize reads bytes and K, M, G as powers of 1024', () => {
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('512K'), 512 * 1024);
  assert.equal(parseSize('10M'), 10 * 1024 * 1024);
  assert.equal(parseSize('1G'), 1024 ** 3);
  assert.equal(parseSize('10m'), 10 * 1024 * 1024);
  assert.equal(parseSize('10MB'), 10 * 1024 * 1024);
  assert.equal(parseSize('10MiB'), 10 * 1024 * 1024);
});

test('parseSize rejects what is not a size, quoting the value in one line', () => {
  for (const bad of ['', 'M', '10X', '-1', '1.5M', '10 M B', '0', '0K', '9999999999G']) {
    assert.throws(() => parseSize(bad), (error: Error) => {
      assert.ok(error.message.includes(JSON.stringify(bad)), error.message);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  }
});

test('formatSize writes exact multiples with a unit', () => {
  assert.equal(formatSize(10 * 1024 * 1024), '10M');
  assert.equal(formatSize(65536), '64K');
  assert.equal(formatSize(1000), '1000');
});
