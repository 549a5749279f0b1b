import type { Logger } from 'pino';
import type { SluiceEvent } from '../events/types.js';
import type { IngressTarget } from '../runtime/ingress-targets.js';

export interface DisplayedEvent {
  receivedAt: string;
  attributes: Record<string, string>;
  /** The data as text when it is valid UTF-8, else base64 (with `dataEncoding: 'base64'`). */
  data?: string;
  dataEncoding?: 'utf8' | 'base64';
}

/**
 * Sluice's built-in stand-in for Knative's `event-display` service: a sink that logs every
 * event it receives and keeps the last `maxEvents` for the admin API, so that the example
 * and a first walk-through need no other program.
 */
export class EventDisplay implements IngressTarget {
  readonly kind = 'display' as const;
  #events: DisplayedEvent[] = [];
  constructor(
    readonly namespace: string,
    readonly name: string,
    readonly maxEvents: number,
    readonly logger: Logger,
  ) {}

  notReadyReason(): undefined {
    return undefined;
  }

  async accept(events: readonly SluiceEvent[]): Promise<void> {
    for (const e of events) {
      const shown = display(e);
      this.#events.push(shown);
      if (this.#events.length > this.maxEvents) this.#events.splice(0, this.#events.length - this.maxEvents);
      this.logger.info({ display: `${this.namespace}/${this.name}`, event: shown.attributes, data: shown.data }, `event received by ${this.name}`);
    }
  }

  recent(): DisplayedEvent[] {
    return [...this.#events];
  }
}

function display(e: SluiceEvent): DisplayedEvent {
  const out: DisplayedEvent = { receivedAt: new Date().toISOString(), attributes: { ...e.attributes } };
  if (e.data) {
    const text = e.data.toString('utf8');
    const clean = Buffer.from(text, 'utf8').equals(e.data);
    out.data = clean ? text : e.data.toString('base64');
    out.dataEncoding = clean ? 'utf8' : 'base64';
  }
  return out;
}
