import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emitterFor, httpTransport, CloudEvent } from 'cloudevents';
import { Inspector, type RateView } from '../../src/inspector/index.js';
import type { DeliveryTarget, OutcomeInfo } from '../../src/dispatcher/index.js';
import { resolveDeliveryPolicy } from '../../src/subscriptions/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';

const event = (id: string) => ({ attributes: { specversion: '1.0', id, source: '/t', type: 't' } });

function target(resource: string, subscription: string): DeliveryTarget {
  return { namespace: 'default', resource, subscription, subscriberUri: 'http://127.0.0.1:1/', policy: resolveDeliveryPolicy(undefined, undefined) };
}

function outcome(t: DeliveryTarget, outcome: OutcomeInfo['outcome'], id = 'e'): OutcomeInfo {
  return { target: t, event: event(id), outcome, attempts: 1, statusCode: 202 };
}

const find = (rates: RateView[], kind: string, name: string) => rates.find((r) => r.kind === kind && r.name === name);

describe('inspector rates (events/s over a sliding window)', () => {
  test('channels and brokers count accepted events; subscriptions and triggers count finished deliveries', () => {
    const start = 1_000_000;
    let now = start;
    // Sampling by hand at each second boundary, as the timer would.
    const insp = new Inspector({ logger: silentLogger(), clock: () => now, rateWindowSeconds: 10, rateSampleMs: 0 });
    const orders = { kind: 'channel', namespace: 'default', name: 'orders' };
    const broker = { kind: 'broker', namespace: 'default', name: 'default' };
    const sub = target('orders', 'to-billing');
    const trig = target('default', 'on-order');
    // 20 s at a steady 5 events/s into the channel and 2 batches of 3 per second into the broker.
    for (let s = 0; s < 20; s++) {
      for (let i = 0; i < 5; i++) {
        now = start + s * 1000 + i * 200;
        insp.onAccepted(orders, [event(`o${s}-${i}`)]);
        insp.onOutcome(outcome(sub, 'delivered'));
        insp.onOutcome(outcome(sub, 'retrying'));
      }
      insp.onAccepted(broker, [event('b1'), event('b2'), event('b3')]);
      insp.onAccepted(broker, [event('b4'), event('b5'), event('b6')]);
      insp.onOutcome(outcome(trig, 'dead-lettered'));
      now = start + (s + 1) * 1000;
      insp.sampleRates();
    }
    const rates = insp.rates((ns, resource, name) => ns === 'default' && resource === 'default' && name === 'on-order');
    assert.equal(find(rates, 'channel', 'orders')!.eventsPerSecond, 5);
    assert.equal(find(rates, 'channel', 'orders')!.total, 100);
    assert.equal(find(rates, 'broker', 'default')!.eventsPerSecond, 6);
    const s = find(rates, 'subscription', 'to-billing')!;
    assert.deepEqual([s.resource, s.eventsPerSecond, s.total], ['orders', 5, 100], 'retrying outcomes are not finished deliveries');
    const t = find(rates, 'trigger', 'on-order')!;
    assert.deepEqual([t.resource, t.eventsPerSecond, t.total], ['default', 1, 20]);

    // A quiet window brings the rate back to zero (and sampling stops); totals stay.
    for (let i = 0; i < 12; i++) {
      now += 1000;
      insp.sampleRates();
    }
    const later = insp.rates();
    assert.equal(find(later, 'channel', 'orders')!.eventsPerSecond, 0);
    assert.equal(find(later, 'channel', 'orders')!.total, 100);
    assert.equal(find(later, 'subscription', 'on-order')!.eventsPerSecond, 0, 'without a trigger lookup it is a subscription');

    // The next burst is measured from its own start, not diluted by the quiet spell.
    insp.onAccepted(orders, [event('x1'), event('x2'), event('x3'), event('x4')]);
    now += 2000;
    assert.equal(find(insp.rates(), 'channel', 'orders')!.eventsPerSecond, 2);
  });

  test('a rate starts from the first event, not from an empty window; display targets are not counted', () => {
    let now = 5_000_500;
    const insp = new Inspector({ logger: silentLogger(), clock: () => now, rateSampleMs: 0 });
    insp.onAccepted({ kind: 'channel', namespace: 'ns', name: 'c' }, [event('1'), event('2')]);
    insp.onAccepted({ kind: 'display', namespace: 'ns', name: 'd' }, [event('3')]);
    now += 2000;
    insp.onAccepted({ kind: 'channel', namespace: 'ns', name: 'c' }, [event('4'), event('5')]);
    const rates = insp.rates();
    assert.equal(rates.length, 1);
    assert.equal(rates[0]!.eventsPerSecond, 2, '4 events over the 2 s since the first');
    assert.equal(rates[0]!.total, 4, 'a new target object with the same name continues the same count');
  });

  test('GET /api/v1/rates reports channels and subscriptions of a running sluice', async (t) => {
    const a = await startSink();
    const s = await startSluice(channelYaml('orders') + subscriptionYaml('to-a', 'orders', a.url));
    t.after(async () => {
      await s.close();
      await a.close();
    });
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/orders`));
    for (let i = 0; i < 4; i++) await emit(new CloudEvent({ id: `r${i}`, source: '/t', type: 't', data: { i } }));
    await a.waitFor(4);
    type Body = { windowSeconds: number; items: RateView[] };
    let body: Body | undefined;
    await waitUntil(async () => {
      body = (await (await fetch(`${s.adminUrl}/api/v1/rates`)).json()) as Body;
      return find(body.items, 'subscription', 'to-a')?.total === 4;
    }, 5000, 'the subscription total');
    assert.equal(body!.windowSeconds, 10);
    const ch = find(body!.items, 'channel', 'orders')!;
    assert.equal(ch.total, 4);
    assert.equal(ch.namespace, 'default');
    assert.ok(ch.eventsPerSecond > 0);
    assert.equal(find(body!.items, 'subscription', 'to-a')!.resource, 'orders');
  });
});
