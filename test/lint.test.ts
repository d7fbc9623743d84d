// Style conventions hold over the whole tree (scripts/lint.js): purpose comments, layering, no transposed matMul flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ROOT } from './helpers';

test('npm run lint finds nothing', () => {
  const { lint } = require(path.join(ROOT, 'scripts', 'lint.js')) as { lint: () => string[] };
  assert.deepEqual(lint(), []);
});
