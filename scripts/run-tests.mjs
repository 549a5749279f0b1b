#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner through tsx.
// Node 20's `--test` does not expand globs nor pick up .ts files, so we list them here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
let files = collect('test');
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// A hung test fails after the timeout instead of stalling CI.
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 180000}`, `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
