import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    assert.ok(m, `instruction: ${line}`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(f, `FROM ${rest}`);
      stages.push({ from: f[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? ''), name: f[2], instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(op, 'ARG', `only ARG before the first FROM, got ${op}`);
      const [k, v = ''] = rest.split('=');
      args.set(k!, v);
    } else {
      stages.at(-1)!.instructions.push({ op, args: rest });
    }
  }
  return { args, stages };
}

const text = readFileSync('deploy/Dockerfile', 'utf8');
const { stages } = parseDockerfile(text);
const runtime = stages.at(-1)!;
const all = (s: Stage, op: string) => s.instructions.filter((i) => i.op === op).map((i) => i.args);

test('multi-stage on a Node 20 base: a build stage compiles, the runtime stage ships', () => {
  assert.ok(stages.length >= 2, 'at least two stages');
  for (const s of stages) assert.match(s.from, /^node:20[.\w-]*$/, `base ${s.from}: Node 20, as package.json engines`);
  const build = stages.find((s) => all(s, 'RUN').some((r) => /npm run build/.test(r)));
  assert.ok(build && build !== runtime, 'a separate stage runs npm run build');
  assert.ok(all(build, 'RUN').some((r) => /npm ci\b/.test(r)), 'the build stage installs with npm ci');
});

test('runtime stage: production dependencies only, the compiled dist, non-root', () => {
  assert.ok(all(runtime, 'RUN').some((r) => /npm ci\b.*--omit=dev/.test(r)), 'npm ci --omit=dev');
  const copies = all(runtime, 'COPY');
  assert.ok(copies.some((c) => /^--from=\S+\s+\S*dist\s/.test(c)), 'dist copied from the build stage');
  assert.ok(copies.some((c) => /^bin\s/.test(c)), 'bin/ (the sluice launcher)');
  assert.ok(copies.some((c) => /^src\/inspector\/static\s/.test(c)), 'the inspector page');
  assert.ok(!copies.some((c) => /^(\.|src|node_modules)\s/.test(c)), 'no sources or host node_modules in the runtime image');
  const users = all(runtime, 'USER');
  assert.ok(users.length > 0, 'USER set');
  const user = users.at(-1)!.split(':')[0]!;
  assert.match(user, /^[1-9]\d*$/, `a numeric non-root user (Kubernetes runAsNonRoot can verify it), got ${user}`);
  assert.match(all(runtime, 'ENTRYPOINT').at(-1) ?? '', /bin\/sluice\.js/);
  const cmd = JSON.parse(all(runtime, 'CMD').at(-1) ?? '[]') as string[];
  assert.equal(cmd[0], 'start');
  assert.equal(cmd[cmd.indexOf('--admin-host') + 1], '0.0.0.0', 'admin port reachable for probes');
  const expose = all(runtime, 'EXPOSE').join(' ').split(/\s+/);
  assert.ok(expose.includes('8080') && expose.includes('9090'), 'EXPOSE 8080 9090');
  // A HEALTHCHECK, or a comment saying why there is none.
  assert.ok(all(runtime, 'HEALTHCHECK').some((h) => /\/healthz/.test(h)) || /no HEALTHCHECK/i.test(text), 'HEALTHCHECK on /healthz');
});

test('every COPY source exists in the repository and the build context skips node_modules', () => {
  for (const s of stages) {
    for (const c of all(s, 'COPY')) {
      if (c.startsWith('--from=')) continue;
      const parts = c.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) assert.ok(existsSync(src), `COPY source ${src} exists`);
    }
  }
  const ignore = readFileSync('deploy/Dockerfile.dockerignore', 'utf8');
  assert.match(ignore, /node_modules/);
  assert.match(ignore, /^dist$/m);
});
