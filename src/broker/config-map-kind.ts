import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ResourceIssue } from '../errors.js';
import { dropNullFields } from '../resources/drop-null-fields.js';
import type { KindContext, KindDefinition } from '../resources/kind-registry.js';
import type { ChannelTemplate } from '../resources/types.js';
import { formatPath, parseWith } from '../resources/zod-issues.js';

// v1 ConfigMap, as Knative's channel-based Broker references one in `spec.config`
// (`config-br-default-channel`, key `channel-template-spec`). Like a Secret, its content
// sits at the top level; Sluice keeps it in `resource.spec`.

export const CONFIG_MAP_KIND = 'ConfigMap';
/** The ConfigMap key holding a broker's channel template (YAML: apiVersion, kind, spec). */
export const CHANNEL_TEMPLATE_KEY = 'channel-template-spec';
/**
 * The same, as knative/eventing's shipped `config-br-default-channel` and its reconciler
 * spell it (`channelTemplateSpec`); both are read, the documented one first.
 */
export const CHANNEL_TEMPLATE_KEYS = [CHANNEL_TEMPLATE_KEY, 'channelTemplateSpec'] as const;

/** The key of `data` holding a channel template, and its text; undefined when neither key is there. */
export function channelTemplateEntry(data: Readonly<Record<string, string>>): { key: string; text: string } | undefined {
  for (const key of CHANNEL_TEMPLATE_KEYS) if (data[key] !== undefined) return { key, text: data[key] };
  return undefined;
}

/** The validated content of a ConfigMap. */
export interface ConfigMapContent {
  data: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

const KEY = /^[-._a-zA-Z0-9]+$/;
const keySchema = z.string().superRefine((k, ctx) => {
  if (k.length > 253 || !KEY.test(k)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(k)} is not a valid key: use letters, digits, '-', '_' and '.'` });
});

const configMapSchema: z.ZodType<ConfigMapContent, unknown> = z
  .strictObject({
    data: z.record(keySchema, z.string()).optional(),
    binaryData: z.record(keySchema, z.string()).optional(),
    immutable: z.boolean().optional(),
  })
  .transform((c): ConfigMapContent => ({ ...c, data: c.data ?? {} }));

/** Parses a `channel-template-spec` value; returns the template or why it is not one. */
export function parseChannelTemplateSpec(text: string): { template: ChannelTemplate } | { error: string } {
  let doc: unknown;
  try {
    // A YAML document inside a string: the loader's null-dropping never saw its fields.
    doc = dropNullFields(parseYaml(text) as unknown);
  } catch (err) {
    return { error: `not valid YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { error: 'must be a YAML mapping with apiVersion, kind and optionally spec' };
  const t = doc as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (key !== 'apiVersion' && key !== 'kind' && key !== 'spec') return { error: `unknown field ${JSON.stringify(key)}; a channel template has apiVersion, kind and spec` };
  }
  if (typeof t.apiVersion !== 'string' || !t.apiVersion) return { error: 'apiVersion: required (e.g. messaging.knative.dev/v1)' };
  if (typeof t.kind !== 'string' || !t.kind) return { error: 'kind: required (e.g. InMemoryChannel)' };
  if (t.spec !== undefined && t.spec !== null && (typeof t.spec !== 'object' || Array.isArray(t.spec))) return { error: 'spec: must be a mapping' };
  const spec = (t.spec ?? undefined) as Record<string, unknown> | undefined;
  return { template: { apiVersion: t.apiVersion, kind: t.kind, ...(spec ? { spec } : {}) } };
}

/** Issues of a channel template against the kinds Sluice knows (the same checks a Channel's template gets). */
export function channelTemplateIssues(template: ChannelTemplate, ctx: KindContext): string[] {
  if (template.kind === 'Channel') return ['kind: a Broker cannot be backed by the abstract Channel; name a channel implementation such as InMemoryChannel'];
  const def = ctx.registry.get(template.apiVersion, template.kind);
  if (!def) {
    const versions = ctx.registry.versionsOfKind(template.kind);
    return [versions.length ? `${template.kind} is not served as ${template.apiVersion}; use ${versions.join(' or ')}` : `unknown channel kind ${template.apiVersion} ${template.kind}`];
  }
  if (def.topLevelFields) return [`${template.kind} is not a channel kind`];
  const parsed = parseWith(def.spec, template.spec ?? {}, ['spec']);
  if (!parsed.ok) return parsed.issues.map((i) => `${i.path}: ${i.message}`);
  // The kind's cross-field rules too; a template has no name of its own, so a placeholder stands in.
  const own = def.validate?.({ apiVersion: template.apiVersion, kind: template.kind, metadata: { name: 'template', namespace: 'default' }, spec: parsed.value }, ctx) ?? [];
  return own.map((i) => `${i.path}: ${i.message}`);
}

export const configMapKind: KindDefinition<ConfigMapContent> = {
  apiVersion: 'v1',
  kind: CONFIG_MAP_KIND,
  spec: configMapSchema,
  topLevelFields: ['data', 'binaryData', 'immutable'],
  validate(r, ctx) {
    const entry = channelTemplateEntry(r.spec.data);
    if (!entry) return [];
    const { key, text } = entry;
    const path = formatPath(['data', key]);
    const parsed = parseChannelTemplateSpec(text);
    if ('error' in parsed) return [{ path, message: parsed.error }];
    return channelTemplateIssues(parsed.template, ctx).map((message): ResourceIssue => ({ path, message }));
  },
};
