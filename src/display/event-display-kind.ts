import { z } from 'zod';
import type { KindDefinition } from '../resources/index.js';

export const EVENT_DISPLAY_API_VERSION = 'messaging.sluice.dev/v1alpha1';

/** `EventDisplay.spec`: how many recent events the admin API keeps for it. */
export interface EventDisplaySpec {
  maxEvents?: number;
}

/** Sluice's built-in sink kind, the stand-in for Knative's event-display service. */
export const eventDisplayKind: KindDefinition<EventDisplaySpec> = {
  apiVersion: EVENT_DISPLAY_API_VERSION,
  kind: 'EventDisplay', shortNames: ['display', 'displays'],
  spec: z.strictObject({ maxEvents: z.number().int().min(1).max(100_000).optional() }),
};
