/**
 * Where the channel path's time goes (`npm run bench -- channel-profile`, only when
 * named): the channel benchmark's load against Sluice run with `--cpu-prof`, rounds
 * alternating with the bare forwarder. CPU time per event of every process comes from
 * /proc/<pid>/stat (Linux); the profile splits Sluice's share into the stages of the
 * event path (bench/lib/profile-stages.ts). Informational: no goals.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchChannelYaml, load } from './channel.js';
import { freePort, median, spawnNode, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { STAGES, stageSamples, type Stage } from './lib/profile-stages.js';

/** CPU time (user + system) a process has used, in µs; undefined where /proc cannot tell. */
function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name; utime and stime are the 14th and 15th of the whole line, in clock ticks (100 Hz on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

export async function benchChannelProfile(options: { seconds?: number; rounds?: number; connections?: number } = {}) {
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 50;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-profile-'));
  const profDir = join(dir, 'profiles');
  const sinkPort = await freePort();
  const sink = await spawnNode(['bench/lib/counting-sink.mjs', String(sinkPort)], 'sink ready');
  const sinkUrl = `http://127.0.0.1:${sinkPort}/`;
  const fwdPort = await freePort();
  const fwd = await spawnNode(['bench/lib/forwarder.mjs', String(fwdPort), sinkUrl], 'forwarder ready');
  writeFileSync(join(dir, 'bench.yaml'), benchChannelYaml(sinkUrl));
  // Two Sluice processes on the same channel file: the profiler slows the one it
  // samples, so CPU per event is measured on the other, which runs unprofiled.
  const start = async (profiled: boolean) => {
    const port = await freePort();
    const adminPort = await freePort();
    const child = await spawnUntil(
      [...(profiled ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...SLUICE_BIN, 'start', '-f', join(dir, 'bench.yaml'), '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn'],
      async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok,
    );
    return { child, url: `http://127.0.0.1:${port}/channels/default/bench` };
  };
  let sluice: Awaited<ReturnType<typeof start>> | undefined;
  let profiled: Awaited<ReturnType<typeof start>> | undefined;
  const perEvent = { sluice: [] as number[], forwarder: [] as number[], sink: [] as number[] };
  /** One load round; CPU per delivered event of the process under test (none for the profiled one) and of the sink. */
  const round = async (pid: number | undefined, url: string, into: number[] | undefined) => {
    const a = cpuMicros(pid);
    const s = cpuMicros(sink.pid);
    const r = await load(url, sinkUrl, seconds, connections);
    const b = cpuMicros(pid);
    const t = cpuMicros(sink.pid);
    if (!into || a === undefined || b === undefined || r.delivered === 0) return;
    into.push((b - a) / r.delivered);
    if (s !== undefined && t !== undefined) perEvent.sink.push((t - s) / r.delivered);
  };
  try {
    sluice = await start(false);
    profiled = await start(true);
    const fwdUrl = `http://127.0.0.1:${fwdPort}/`;
    await round(fwd.pid, fwdUrl, undefined);
    await round(sluice.child.pid, sluice.url, undefined);
    for (let i = 0; i < rounds; i++) {
      await round(fwd.pid, fwdUrl, perEvent.forwarder);
      await round(sluice.child.pid, sluice.url, perEvent.sluice);
      await round(undefined, profiled.url, undefined);
    }
  } finally {
    // SIGTERM: Sluice exits normally, and node writes the profile on the way out.
    await stop(profiled?.child);
    await stop(sluice?.child);
    await stop(fwd);
    await stop(sink);
  }
  // One profile per thread (the main thread and the delivery thread): their samples add up,
  // as the CPU time per event below counts every thread of the process.
  const samples = new Map<Stage, number>();
  for (const file of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))) {
    for (const [stage, n] of stageSamples(join(profDir, file))) samples.set(stage, (samples.get(stage) ?? 0) + n);
  }
  rmSync(dir, { recursive: true, force: true });
  const total = [...samples.values()].reduce((a, b) => a + b, 0);
  const sluiceUs = perEvent.sluice.length ? median(perEvent.sluice) : NaN;
  const stages = STAGES.map((stage) => {
    const share = total ? (samples.get(stage) ?? 0) / total : 0;
    return { stage, share: Math.round(share * 1000) / 10, microsPerEvent: Math.round(share * sluiceUs * 10) / 10 };
  });
  for (const s of stages) console.log(`${String(s.share).padStart(5)}%  ${String(s.microsPerEvent).padStart(6)} µs  ${s.stage}`);
  return {
    name: 'channel-profile',
    seconds,
    rounds,
    connections,
    cpuMicrosPerEvent: {
      sluice: sluiceUs,
      forwarder: perEvent.forwarder.length ? median(perEvent.forwarder) : NaN,
      sink: perEvent.sink.length ? median(perEvent.sink) : NaN,
    },
    /** Sluice's CPU per event over the forwarder's in the round before it: the machine's speed drifts, the ratio less. */
    cpuRatio: perEvent.sluice.length ? median(perEvent.sluice.map((v, i) => v / perEvent.forwarder[i]!)) : NaN,
    stages,
    runs: perEvent,
  };
}
