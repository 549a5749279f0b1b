import type { z } from 'zod';
import { InvalidOptionError, type ResourceIssue } from '../errors.js';
import type { ChannelTemplate, Resource } from './types.js';

/** What defaults() and validate() may need beyond the resource itself. */
export interface KindContext {
  /** The registry the resource is validated against (e.g. to check a channelTemplate's spec). */
  readonly registry: ResourceKindRegistry;
  /** Channel's default `spec.channelTemplate` (the loader option, or InMemoryChannel). */
  readonly defaultChannelTemplate: ChannelTemplate;
}

/**
 * One kind of resource. A feature adds a kind with one module exporting a KindDefinition
 * (or, for a source, a runner carrying it) and one entry in `src/kinds.ts`.
 */
export interface KindDefinition<Spec = unknown> {
  /** Accepted apiVersions; a resource keeps the one it was written with. */
  readonly apiVersion: string | readonly string[];
  readonly kind: string;
  /** Short names users may type for it besides its singular and plural (`imc`, `ksvc`), as kubectl's CRD shortNames. */
  readonly shortNames?: readonly string[];
  /** Schema of `spec` (strict objects: unknown fields are errors). A missing spec is validated as `{}`. */
  readonly spec: z.ZodType<Spec, unknown>;
  /**
   * Kinds that keep their content at the top level instead of under `spec` (v1 Secret,
   * ConfigMap): the top-level fields `spec` validates. Their validated content is held in
   * `resource.spec`.
   */
  readonly topLevelFields?: readonly string[];
  /** Fills in defaults after the schema passed; may mutate the resource or return a new one. */
  defaults?(resource: Resource<Spec>, ctx: KindContext): Resource<Spec> | void;
  /** Cross-field rules the schema cannot express; issue paths are full (`spec.channel.namespace`). */
  validate?(resource: Resource<Spec>, ctx: KindContext): ResourceIssue[];
}

/** The apiVersion group: `messaging.knative.dev/v1` -> `messaging.knative.dev`; core `v1` -> ``. */
export function apiGroup(apiVersion: string): string {
  const i = apiVersion.lastIndexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** Kinds Sluice understands, keyed by apiVersion and kind. */
export class ResourceKindRegistry {
  #byKey = new Map<string, KindDefinition>();
  #defs: KindDefinition[] = [];

  /** Adds a kind; returns the registry so registrations chain. Registering the same apiVersion+kind twice is a programming error. */
  register<Spec>(def: KindDefinition<Spec>): this {
    const versions = ResourceKindRegistry.versionsOf(def);
    if (!def.kind || versions.length === 0 || versions.some((v) => !v)) {
      throw new InvalidOptionError('a kind definition needs a kind and at least one apiVersion');
    }
    for (const v of versions) {
      if (this.#byKey.has(`${v} ${def.kind}`)) throw new InvalidOptionError(`kind ${def.kind} (${v}) is already registered`);
    }
    const erased = def as KindDefinition;
    for (const v of versions) this.#byKey.set(`${v} ${def.kind}`, erased);
    this.#defs.push(erased);
    return this;
  }

  get(apiVersion: string, kind: string): KindDefinition | undefined {
    return this.#byKey.get(`${apiVersion} ${kind}`);
  }

  has(apiVersion: string, kind: string): boolean {
    return this.#byKey.has(`${apiVersion} ${kind}`);
  }

  /** Every registered definition, in registration order. */
  definitions(): readonly KindDefinition[] {
    return this.#defs;
  }

  /** Kind names served under an apiVersion group (any version), sorted. */
  kindsInGroup(group: string): string[] {
    const out = new Set<string>();
    for (const d of this.#defs) {
      if (ResourceKindRegistry.versionsOf(d).some((v) => apiGroup(v) === group)) out.add(d.kind);
    }
    return [...out].sort();
  }

  /** apiVersions a kind is served under (any group), for "did you mean" messages. */
  versionsOfKind(kind: string): string[] {
    return this.#defs.filter((d) => d.kind === kind).flatMap((d) => ResourceKindRegistry.versionsOf(d));
  }

  /** Every accepted apiVersion, sorted. */
  apiVersions(): string[] {
    return [...new Set(this.#defs.flatMap((d) => ResourceKindRegistry.versionsOf(d)))].sort();
  }

  static versionsOf(def: Pick<KindDefinition, 'apiVersion'>): readonly string[] {
    return typeof def.apiVersion === 'string' ? [def.apiVersion] : def.apiVersion;
  }
}
