import { z } from 'zod';
import type { KindDefinition } from './kind-registry.js';
import type { Resource, SecretResource } from './types.js';

// v1 Secret, as GitHubSource and others reference it (`secretKeyRef`). Kubernetes keeps
// a Secret's content at the top level (`data`, `stringData`, `type`), not under `spec`.

/** Kubernetes' rule for keys of a Secret's data. */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const secretKeySchema = z.string().superRefine((k, ctx) => {
  if (k.length > 253 || !SECRET_KEY.test(k)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(k)} is not a valid key: use letters, digits, '-', '_' and '.'` });
  }
});

// Go's StdEncoding, which Kubernetes uses for []byte, ignores line breaks; YAML block
// scalars add them to long values.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A string value whose content is never echoed in messages: it is a secret. */
const secretStringSchema = z.unknown().transform((v, ctx) => {
  if (typeof v === 'string') return v;
  const got = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  ctx.addIssue({ code: 'custom', message: `expected string, got ${got} (quote the value)` });
  return z.NEVER;
});

const base64Schema = secretStringSchema.transform((s, ctx) => {
  const compact = s.replace(/[\r\n]/g, '');
  if (!BASE64.test(compact)) {
    ctx.addIssue({ code: 'custom', message: 'value is not valid base64 (use stringData for plain text)' });
    return z.NEVER;
  }
  return Buffer.from(compact, 'base64');
});

/** The validated content of a Secret (held in `resource.spec`). */
export interface SecretContent {
  data: Record<string, Buffer>;
  type: string;
  immutable?: boolean;
}

const secretContentSchema: z.ZodType<SecretContent, unknown> = z
  .strictObject({
    data: z.record(secretKeySchema, base64Schema).optional(),
    stringData: z.record(secretKeySchema, secretStringSchema).optional(),
    type: z.string().min(1).default('Opaque'),
    immutable: z.boolean().optional(),
  })
  .transform((s): SecretContent => {
    const data: Record<string, Buffer> = { ...s.data };
    // As in Kubernetes, stringData wins over data for the same key.
    for (const [k, v] of Object.entries(s.stringData ?? {})) data[k] = Buffer.from(v, 'utf8');
    const out: SecretContent = { data, type: s.type };
    if (s.immutable !== undefined) out.immutable = s.immutable;
    return out;
  });

export const secretKind: KindDefinition<SecretContent> = {
  apiVersion: 'v1',
  kind: 'Secret',
  spec: secretContentSchema,
  topLevelFields: ['data', 'stringData', 'type', 'immutable'],
};

/** A validated Secret resource in the form the rest of Sluice reads. */
export function toSecretResource(r: Resource<SecretContent>): SecretResource {
  return { apiVersion: 'v1', kind: 'Secret', metadata: r.metadata, data: r.spec.data, type: r.spec.type };
}

export function isSecretResource(r: Resource<unknown>): r is Resource<SecretContent> {
  return r.apiVersion === 'v1' && r.kind === 'Secret';
}
