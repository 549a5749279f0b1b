import { PING_EVENT_TYPE, PingSource, pingEventSource, type PingSourceSpecInput } from '../ping/index.js';
import type { SourceRunner } from './source-runner.js';

/** Runs PingSources: a fixed event on a cron schedule. */
export const pingRunner: SourceRunner = {
  kind: 'PingSource',
  build(ctx) {
    const { namespace, name } = ctx.resource.metadata;
    const source = new PingSource({ namespace, name, spec: ctx.resource.spec as unknown as PingSourceSpecInput, logger: ctx.logger });
    return {
      source,
      status: () => ({
        fields: {
          ceAttributes: [{ type: PING_EVENT_TYPE, source: pingEventSource(namespace, name) }],
          ...(source.nextTick ? { nextTick: source.nextTick.toISOString() } : {}),
        },
      }),
    };
  },
};
