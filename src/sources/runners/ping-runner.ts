import { PING_EVENT_TYPE, PingSource, pingEventSource, type PingSourceSpec } from '../ping/index.js';
import { pingSourceKind } from '../ping/ping-source-kind.js';
import type { SourceRunner } from './source-runner.js';

/** Runs PingSources: a fixed event on a cron schedule. */
export const pingRunner: SourceRunner<PingSourceSpec> = {
  definition: pingSourceKind,
  build(ctx) {
    const { namespace, name } = ctx.resource.metadata;
    const source = new PingSource({ namespace, name, spec: ctx.resource.spec, logger: ctx.logger });
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
