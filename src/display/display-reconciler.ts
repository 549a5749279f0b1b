import { nsKey } from '../resources/types.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { EventDisplay } from './event-display.js';
import { eventDisplayKind, type EventDisplaySpec } from './event-display-kind.js';

/** Creates an EventDisplay sink per resource and makes `ref: {kind: EventDisplay}` resolvable. */
export class EventDisplayReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly displays = new Map<string, EventDisplay>();
  #registered = false;

  async reconcile(runtime: ReconcileContext): Promise<void> {
    const { targets, logger } = runtime;
    const url = (ns: string, name: string) => `${runtime.publicUrl}/display/${ns}/${name}`;
    if (!this.#registered) {
      runtime.addresses.register(eventDisplayKind.kind, (ref) => (this.displays.has(nsKey(ref.namespace, ref.name)) ? { url: url(ref.namespace, ref.name) } : undefined));
      this.#registered = true;
    }
    const desired = new Set<string>();
    for (const { resource } of runtime.list<EventDisplaySpec>(eventDisplayKind.kind)) {
      const { namespace, name } = resource.metadata;
      const key = nsKey(namespace, name);
      desired.add(key);
      const max = resource.spec.maxEvents ?? 100;
      let d = this.displays.get(key);
      if (!d || d.maxEvents !== max) {
        d = new EventDisplay(namespace, name, max, logger.child({ component: 'event-display' }));
        this.displays.set(key, d);
        targets.displays.set(key, d);
      }
      runtime.setStatus(resource, readyStatus(true, 'DisplayReady', undefined, { address: { url: url(namespace, name) } }));
    }
    for (const key of this.displays.keys()) {
      if (desired.has(key)) continue;
      this.displays.delete(key);
      targets.displays.delete(key);
    }
  }
}
