import { ResourceValidationError } from '../../errors.js';
import { nsKey } from '../../resources/types.js';
import { parseWith } from '../../resources/zod-issues.js';
import { matchesSelector } from '../apiserver/label-selector.js';
import { ceOverridesEnvValue } from './ce-overrides.js';
import { sinkBindingSpecSchema, type SinkBindingSpec, type SinkBindingSpecInput } from './spec-schema.js';

/** A process Sluice runs, described as the Kubernetes object it stands for. */
export interface BindingSubject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  labels?: Readonly<Record<string, string>>;
}

export interface SinkBindingInput {
  namespace: string;
  name: string;
  /** The spec as written; validated here. */
  spec: SinkBindingSpecInput;
  /** The resolved `spec.sink` URL. */
  sinkUrl: string;
}

export interface BoundSinkBinding {
  namespace: string;
  name: string;
  spec: SinkBindingSpec;
  sinkUrl: string;
}

/**
 * Which SinkBindings apply to which subjects, so that the processes Sluice runs
 * (ContainerSources, Services started by the activator) get `K_SINK` and
 * `K_CE_OVERRIDES` as Knative's SinkBinding webhook would inject them. Subjects are
 * matched within the binding's namespace by apiVersion, kind and name or label selector.
 * When several bindings match one subject, the first by name wins, so the outcome never
 * depends on load order; `bindingsFor` lists them all for status reporting.
 */
export class SinkBindingIndex {
  /** `namespace|apiVersion|kind` -> bindings by name. */
  readonly #byTarget = new Map<string, Map<string, BoundSinkBinding>>();
  /** `namespace/name` -> target key, to remove a binding whose subject changed. */
  readonly #targetOf = new Map<string, string>();
  readonly #listeners = new Set<() => void>();

  get size(): number {
    return this.#targetOf.size;
  }

  /** Adds or replaces a binding; throws ResourceValidationError for a bad spec. */
  set(input: SinkBindingInput): BoundSinkBinding {
    const where = { kind: 'SinkBinding', name: `${input.namespace}/${input.name}` };
    const parsed = parseWith(sinkBindingSpecSchema, input.spec, ['spec']);
    if (!parsed.ok) throw new ResourceValidationError({ ...where, issues: parsed.issues });
    const spec = parsed.value;
    if (spec.subject.namespace !== undefined && spec.subject.namespace !== input.namespace) {
      throw new ResourceValidationError({ ...where, issues: [{ path: 'spec.subject.namespace', message: `must be the SinkBinding's own namespace (${input.namespace})` }] });
    }
    try {
      new URL(input.sinkUrl);
    } catch {
      throw new ResourceValidationError({ ...where, issues: [{ path: 'spec.sink', message: `resolved to ${JSON.stringify(input.sinkUrl)}, which is not a URL` }] });
    }
    this.#delete(input.namespace, input.name);
    const bound: BoundSinkBinding = { namespace: input.namespace, name: input.name, spec, sinkUrl: input.sinkUrl };
    const key = targetKey(input.namespace, spec.subject.apiVersion, spec.subject.kind);
    let byName = this.#byTarget.get(key);
    if (!byName) this.#byTarget.set(key, (byName = new Map()));
    byName.set(input.name, bound);
    this.#targetOf.set(nsKey(input.namespace, input.name), key);
    this.#changed();
    return bound;
  }

  remove(namespace: string, name: string): boolean {
    const removed = this.#delete(namespace, name);
    if (removed) this.#changed();
    return removed;
  }

  /** Every binding that selects the subject, first (the one that applies) first. */
  bindingsFor(subject: BindingSubject): BoundSinkBinding[] {
    const byName = this.#byTarget.get(targetKey(subject.namespace, subject.apiVersion, subject.kind));
    if (!byName) return [];
    return [...byName.values()]
      .filter((b) => (b.spec.subject.name !== undefined ? b.spec.subject.name === subject.name : matchesSelector(b.spec.subject.selector, subject.labels ?? {})))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** `K_SINK` (and `K_CE_OVERRIDES` when the binding sets ceOverrides) for the subject, or undefined when no binding applies. */
  envFor(subject: BindingSubject): Record<string, string> | undefined {
    const b = this.bindingsFor(subject)[0];
    if (!b) return undefined;
    const env: Record<string, string> = { K_SINK: b.sinkUrl };
    const overrides = ceOverridesEnvValue(b.spec.ceOverrides);
    if (overrides !== undefined) env.K_CE_OVERRIDES = overrides;
    return env;
  }

  /** Called after every change, so that the runner can restart bound processes with their new environment. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #delete(namespace: string, name: string): boolean {
    const id = nsKey(namespace, name);
    const key = this.#targetOf.get(id);
    if (key === undefined) return false;
    this.#targetOf.delete(id);
    const byName = this.#byTarget.get(key);
    byName?.delete(name);
    if (byName?.size === 0) this.#byTarget.delete(key);
    return true;
  }

  #changed(): void {
    for (const l of this.#listeners) {
      try {
        l();
      } catch {
        // A listener's failure is its own; the index stays consistent.
      }
    }
  }
}

function targetKey(namespace: string, apiVersion: string, kind: string): string {
  return `${namespace}|${apiVersion}|${kind}`;
}
