import { nsKey } from '../resources/types.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { DestinationError, type ResolvedDestination } from '../runtime/addressing.js';
import { readyStatus } from '../runtime/status.js';
import { EVENT_TRANSFORM_KIND, eventTransformKind, type EventTransformSpec } from './event-transform-kind.js';
import { JsonataTransform, TransformFailedError } from './jsonata-expression.js';
import { TransformEndpoint, type ReplyMode } from './transform-endpoint.js';

/** The ingress path of an EventTransform, without the leading slash (the `targets.paths` key). */
export function transformPath(namespace: string, name: string): string {
  return `transforms/${namespace}/${name}`;
}

interface Entry {
  readonly endpoint: TransformEndpoint;
  /** The expressions it was compiled from: an unchanged resource is not compiled again. */
  readonly sources: string;
}

/**
 * Runs EventTransforms: compiles each resource's expressions once, serves it at
 * `/transforms/<ns>/<name>`, resolves its sink on every pass (a sink may appear or go
 * away), and makes `ref: {kind: EventTransform}` resolvable as a sink or subscriber.
 */
export class EventTransformReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly #entries = new Map<string, Entry>();
  #registered = false;

  async reconcile(runtime: ReconcileContext): Promise<void> {
    const url = (ns: string, name: string) => `${runtime.publicUrl}/${transformPath(ns, name)}`;
    if (!this.#registered) {
      runtime.addresses.register(EVENT_TRANSFORM_KIND, (ref) => (this.#entries.has(nsKey(ref.namespace, ref.name)) ? { url: url(ref.namespace, ref.name) } : undefined));
      this.#registered = true;
    }
    const resources = runtime.list<EventTransformSpec>(eventTransformKind.kind);
    const desired = new Set<string>();
    const compiled: Array<{ resource: (typeof resources)[number]['resource']; entry: Entry }> = [];
    // Every transform is addressable before any sink is resolved: one may be another's sink.
    for (const { resource } of resources) {
      const { namespace, name } = resource.metadata;
      const key = nsKey(namespace, name);
      const spec = resource.spec;
      const sources = JSON.stringify([spec.jsonata?.expression, spec.reply?.jsonata?.expression, spec.reply?.discard]);
      let entry = this.#entries.get(key);
      if (!entry || entry.sources !== sources) {
        let transform: JsonataTransform;
        let reply: ReplyMode;
        try {
          transform = new JsonataTransform(spec.jsonata?.expression ?? '', 'spec.jsonata.expression');
          reply = spec.reply?.discard
            ? { kind: 'discard' }
            : spec.reply?.jsonata
              ? { kind: 'transform', transform: new JsonataTransform(spec.reply.jsonata.expression, 'spec.reply.jsonata.expression') }
              : { kind: 'pass' };
        } catch (err) {
          // Validation compiles the expressions too; this is a resource that skipped it.
          runtime.setStatus(resource, readyStatus(false, 'InvalidSpec', err instanceof TransformFailedError ? err.message : String(err)));
          continue;
        }
        const endpoint = entry?.endpoint ?? new TransformEndpoint(namespace, name, { transform, reply }, runtime.dispatcher, runtime.logger.child({ component: 'event-transform' }));
        endpoint.configure({ ...endpoint.config, transform, reply });
        entry = { endpoint, sources };
        this.#entries.set(key, entry);
        // The owner lets the ingress apply the EventTransform's own ingress token.
        runtime.targets.paths.set(transformPath(namespace, name), Object.assign(endpoint.handle, { owner: { kind: 'transform' as const, namespace, name } }));
      }
      desired.add(key);
      compiled.push({ resource, entry });
    }
    for (const [key, entry] of [...this.#entries]) {
      if (desired.has(key)) continue;
      this.#entries.delete(key);
      runtime.targets.paths.delete(transformPath(entry.endpoint.namespace, entry.endpoint.name));
    }
    for (const { resource, entry } of compiled) {
      const { namespace, name } = resource.metadata;
      const address = { url: url(namespace, name) };
      const { endpoint } = entry;
      let sink: ResolvedDestination | undefined;
      if (resource.spec.sink) {
        try {
          sink = runtime.addresses.resolve(resource.spec.sink, namespace, 'spec.sink');
        } catch (err) {
          if (!(err instanceof DestinationError)) throw err;
          endpoint.configure({ ...endpoint.config, sink: undefined, notReady: err.message });
          runtime.setStatus(resource, readyStatus(false, 'SinkNotResolved', err.message, { address }));
          continue;
        }
      }
      endpoint.configure({ transform: endpoint.config.transform, reply: endpoint.config.reply, sink, notReady: undefined });
      runtime.setStatus(resource, readyStatus(true, 'TransformReady', undefined, { address, ...(sink ? { sinkUri: sink.url } : {}) }));
    }
  }
}
