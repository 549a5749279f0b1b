import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { HTTP, type CloudEvent } from 'cloudevents';
import { ResourceValidationError, UnavailableError } from '../../src/errors.js';
import { toBinaryHttp } from '../../src/events/binary.js';
import type { SluiceEvent } from '../../src/events/types.js';
import type { EmitFn } from '../../src/sources/source.js';
import { PingSchedule, PingSource, pingSourceKind, type PingClock, type PingSourceOptions } from '../../src/sources/ping/index.js';
import { startSink } from '../helpers/sink.js';

/** Virtual time: timers run only when the test advances the clock. */
class FakeClock implements PingClock {
  t: number;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  constructor(start: string) {
    this.t = Date.parse(start);
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  /** Runs every timer due up to now + ms, in time order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= target && (!first || e[1].at < first[1].at)) first = e;
      if (!first) break;
      this.#timers.delete(first[0]);
      this.t = Math.max(this.t, first[1].at);
      first[1].fn();
    }
    this.t = target;
    await new Promise((r) => setImmediate(r));
  }
  /** The process was suspended: time passes, no timer runs until `advance`. */
  jump(ms: number): void {
    this.t += ms;
  }
}

const sink = { uri: 'http://127.0.0.1:1/' };

function make(spec: Partial<PingSourceOptions['spec']>, over: Partial<PingSourceOptions> = {}): PingSource {
  return new PingSource({ namespace: 'ns1', name: 'every-5s', spec: { sink, ...spec }, ...over });
}

describe('PingSource on a virtual clock', () => {
  test('emits on each scheduled second with the tick time, a fresh id, the Knative type and source', async () => {
    const clock = new FakeClock('2025-03-01T10:00:02.250Z');
    const events: SluiceEvent[] = [];
    const src = make({ schedule: '*/5 * * * * *', data: '{"message":"Hello world!"}', contentType: 'application/json' }, { clock });
    await src.start(async (e) => void events.push(e));
    assert.equal(src.nextTick?.toISOString(), '2025-03-01T10:00:05.000Z');
    await clock.advance(11_000);
    assert.deepEqual(events.map((e) => e.attributes.time), ['2025-03-01T10:00:05.000Z', '2025-03-01T10:00:10.000Z']);
    for (const e of events) {
      assert.equal(e.attributes.type, 'dev.knative.sources.ping');
      assert.equal(e.attributes.source, '/apis/v1/namespaces/ns1/pingsources/every-5s');
      assert.equal(e.attributes.datacontenttype, 'application/json');
      assert.equal(e.attributes.specversion, '1.0');
      assert.equal(e.data?.toString(), '{"message":"Hello world!"}');
    }
    assert.notEqual(events[0]!.attributes.id, events[1]!.attributes.id);
    assert.match(events[0]!.attributes.id!, /^[0-9a-f-]{36}$/);
    await src.stop();
    assert.equal(clock.pending, 0);
    await clock.advance(60_000);
    assert.equal(events.length, 2);
  });

  test('dataBase64 is decoded to bytes; no contentType means no datacontenttype (as Knative)', async () => {
    const clock = new FakeClock('2025-03-01T10:00:00.500Z');
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const events: SluiceEvent[] = [];
    const src = make({ schedule: '* * * * * *', dataBase64: bytes.toString('base64') }, { clock });
    await src.start(async (e) => void events.push(e));
    await clock.advance(1000);
    await src.stop();
    assert.equal(events.length, 1);
    assert.ok(events[0]!.data?.equals(bytes));
    assert.equal(events[0]!.attributes.datacontenttype, undefined);
  });

  test('the schedule is read in spec.timezone (and a CRON_TZ prefix), across daylight saving time', async () => {
    const winter = new FakeClock('2025-01-15T12:00:00Z');
    const src = make({ schedule: '0 9 * * *', timezone: 'America/New_York' }, { clock: winter });
    await src.start(async () => undefined);
    assert.equal(src.nextTick?.toISOString(), '2025-01-15T14:00:00.000Z');
    await src.stop();
    const summer = new FakeClock('2025-07-15T12:00:00Z');
    const src2 = make({ schedule: 'CRON_TZ=America/New_York 0 9 * * *' }, { clock: summer });
    await src2.start(async () => undefined);
    assert.equal(src2.nextTick?.toISOString(), '2025-07-15T13:00:00.000Z');
    await src2.stop();
    const utc = new FakeClock('2025-07-15T12:00:00Z');
    const src3 = make({ schedule: '0 9 * * *', timezone: 'UTC' }, { clock: utc });
    await src3.start(async () => undefined);
    assert.equal(src3.nextTick?.toISOString(), '2025-07-16T09:00:00.000Z');
    await src3.stop();
  });

  test('ticks missed while the process was suspended are not replayed', async () => {
    const clock = new FakeClock('2025-03-01T10:00:00.100Z');
    const events: SluiceEvent[] = [];
    const src = make({ schedule: '* * * * * *' }, { clock });
    await src.start(async (e) => void events.push(e));
    clock.jump(30_000);
    await clock.advance(0);
    assert.equal(events.length, 1, 'one late tick, not thirty');
    assert.equal(events[0]!.attributes.time, '2025-03-01T10:00:01.000Z');
    assert.equal(src.nextTick?.toISOString(), '2025-03-01T10:00:31.000Z');
    await clock.advance(1000);
    assert.equal(events.length, 2);
    await src.stop();
  });

  test('a failing emit is retried with backoff within the tick, with the same id', async () => {
    const clock = new FakeClock('2025-03-01T10:00:00.500Z');
    const attempts: Array<{ id: string; at: number }> = [];
    const src = make({ schedule: '0 * * * *' }, { clock, retries: 3, retryDelayMs: 100 });
    await src.start(async (e) => {
      attempts.push({ id: e.attributes.id!, at: clock.now() });
      if (attempts.length < 3) throw new UnavailableError('sink down');
    });
    await clock.advance(3_600_000);
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts.map((a) => a.id)).size, 1);
    assert.deepEqual(attempts.slice(1).map((a, i) => a.at - attempts[i]!.at), [100, 200]);
    assert.deepEqual(src.stats, { ticks: 1, emitted: 1, failed: 0, skipped: 0 });
    await src.stop();
  });

  test('after the last retry the tick is dropped and counted; stop cancels retries', async () => {
    const clock = new FakeClock('2025-03-01T10:00:00.500Z');
    let calls = 0;
    const src = make({ schedule: '* * * * * *' }, { clock, retries: 2, retryDelayMs: 100 });
    await src.start(async () => {
      calls++;
      throw new UnavailableError('sink down');
    });
    await clock.advance(1000);
    assert.equal(calls, 3);
    assert.equal(src.stats.failed, 1);
    await clock.advance(500);
    assert.equal(calls, 4);
    await src.stop();
    await clock.advance(10_000);
    assert.equal(calls, 4);
    assert.equal(clock.pending, 0);
  });

  test('an emit that never settles cannot pile up: ticks beyond maxInFlight are skipped', async () => {
    const clock = new FakeClock('2025-03-01T10:00:00.500Z');
    const src = make({ schedule: '* * * * * *' }, { clock, maxInFlight: 2 });
    await src.start(() => new Promise(() => undefined));
    await clock.advance(4000);
    assert.deepEqual(src.stats, { ticks: 4, emitted: 0, failed: 0, skipped: 2 });
    await src.stop();
  });
});

describe('PingSource on the real clock', () => {
  test('a per-second schedule delivers CloudEvents to a real sink until stopped', async () => {
    const s = await startSink();
    const post: EmitFn = async (event) => {
      const { headers, body } = toBinaryHttp(event);
      const res = await request(s.url, { method: 'POST', headers, body: body ?? null });
      await res.body.dump();
      if (res.statusCode >= 300) throw new UnavailableError(`sink answered ${res.statusCode}`);
    };
    // The real clock, with its armed timers in view, and the emits still running.
    const armed = new Set<unknown>();
    const clock: PingClock = {
      now: () => Date.now(),
      setTimeout: (fn, ms) => {
        const h = setTimeout(() => {
          armed.delete(h);
          fn();
        }, ms);
        armed.add(h);
        return h;
      },
      clearTimeout: (h) => {
        armed.delete(h);
        clearTimeout(h as NodeJS.Timeout);
      },
    };
    const sending = new Set<Promise<void>>();
    let sent = 0;
    const emit: EmitFn = (event) => {
      const p = post(event);
      sent++;
      sending.add(p);
      p.then(() => sending.delete(p), () => sending.delete(p));
      return p;
    };
    const src = make({ schedule: '* * * * * *', data: 'ping', contentType: 'text/plain' }, { clock });
    try {
      await src.start(emit);
      await s.waitFor(2, 15_000);
      await src.stop();
      await Promise.allSettled([...sending]);
      for (const r of s.requests.slice(0, 2)) {
        const ce = HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body }) as CloudEvent<unknown>;
        assert.equal(ce.validate(), true);
        assert.equal(ce.type, 'dev.knative.sources.ping');
        assert.equal(ce.source, '/apis/v1/namespaces/ns1/pingsources/every-5s');
        assert.equal(String(ce.data), 'ping');
        assert.match(ce.time ?? '', /:\d\d\.000Z$/, 'time is the whole-second tick');
      }
      // Nothing after stop: no timer is left that could fire a tick or a retry.
      assert.equal(armed.size, 0);
      assert.equal(src.nextTick, null);
      assert.equal(s.requests.length, sent);
    } finally {
      await src.stop();
      await s.close();
    }
  });
});

describe('PingSource spec', () => {
  const invalid = (spec: Record<string, unknown>, re: RegExp) =>
    assert.throws(
      () => make(spec as Partial<PingSourceOptions['spec']>),
      (err: unknown) => err instanceof ResourceValidationError && re.test(err.message),
    );

  test('schedule defaults to every minute', () => {
    const src = make({});
    assert.equal(src.spec.schedule, '* * * * *');
  });

  test('bad input is refused with the field named', () => {
    invalid({ data: 'a', dataBase64: 'YQ==' }, /spec\.dataBase64: data and dataBase64 are mutually exclusive/);
    invalid({ dataBase64: 'not base64!' }, /spec\.dataBase64: is not valid/);
    invalid({ schedule: '61 * * * *' }, /spec\.schedule: "61 \* \* \* \*" is not a cron schedule.*minute/);
    invalid({ schedule: 'every minute' }, /spec\.schedule: .*not a cron schedule/);
    invalid({ schedule: '0 0 31 2 *' }, /spec\.schedule: .*never fires/);
    invalid({ timezone: 'Mars/Olympus_Mons' }, /spec\.timezone: "Mars\/Olympus_Mons" is not an IANA time zone/);
    invalid({ schedule: 'CRON_TZ=Europe/Paris * * * * *', timezone: 'Asia/Tokyo' }, /spec\.schedule: .*disagree/);
    invalid({ jsonData: '{}' }, /jsonData/);
  });

  test('descriptors and @every are accepted as Knative\'s cron parser accepts them', () => {
    const t = new Date('2025-03-01T10:00:00Z');
    assert.equal(new PingSchedule('@hourly').next(t)?.toISOString().slice(14), '00:00.000Z');
    assert.equal(new PingSchedule('@every 1h30m').next(t)?.getTime(), t.getTime() + 90 * 60_000);
    assert.throws(() => new PingSchedule('@every 10ms'), /at least 1s/);
  });

  test('the kind definition validates the spec and defaults the sink namespace', () => {
    const parsed = pingSourceKind.spec.safeParse({ sink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'display' } }, data: 'x' });
    assert.ok(parsed.success);
    assert.equal(parsed.data.schedule, '* * * * *');
    const r = { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'p', namespace: 'team-b' }, spec: parsed.data };
    pingSourceKind.defaults?.(r, {} as never);
    assert.equal(r.spec.sink.ref?.namespace, 'team-b');
    assert.equal(pingSourceKind.spec.safeParse({ sink, schedule: 'nope' }).success, false);
  });
});
