import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

// The layering DESIGN.md asks for, checked on the source itself: who may import whom.

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/g;

/** file -> the files it imports (type-only and dynamic imports included: they are dependencies too). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources('src')) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) deps.push(normalize(join(dirname(file), (m[1] ?? m[2])!.replace(/\.js$/, '.ts'))));
    g.set(normalize(file), deps);
  }
  return g;
}

function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of g.get(f) ?? []) {
      if (!g.has(d)) continue;
      if (state.get(d) === 'visiting') found.push(stack.slice(stack.indexOf(d)).concat(d));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  return found;
}

test('the control loop (src/runtime) does not import the HTTP layer (src/server)', () => {
  const bad: string[] = [];
  for (const [file, deps] of graph()) {
    if (!file.startsWith(join('src', 'runtime'))) continue;
    for (const d of deps) if (d.startsWith(join('src', 'server'))) bad.push(`${file} -> ${d}`);
  }
  assert.deepEqual(bad, []);
});

test('channels know nothing of HTTP delivery; the dispatcher nothing of channel backends', () => {
  const bad: string[] = [];
  for (const [file, deps] of graph()) {
    for (const d of deps) {
      if (file.startsWith(join('src', 'channels')) && (d.startsWith(join('src', 'dispatcher')) || d.startsWith(join('src', 'server')))) bad.push(`${file} -> ${d}`);
      if (file.startsWith(join('src', 'dispatcher')) && /src\/channels\/(memory|nats|bullmq)\//.test(d)) bad.push(`${file} -> ${d}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no import cycles between modules', () => {
  const found = cycles(graph()).map((c) => c.map((f) => relative('src', f)).join(' -> '));
  assert.deepEqual(found, []);
});
