import { z } from 'zod';
import { destinationSchema } from '../../resources/common-schemas.js';
import { ceOverridesSchema } from '../sinkbinding/ce-overrides.js';
import { ALL_GITHUB_EVENTS } from './github-event-names.js';

/** Kubernetes `SecretKeySelector` wrapped as Knative's `SecretValueFromSource`. */
export const secretValueFromSourceSchema = z.strictObject({
  secretKeyRef: z.strictObject({
    name: z.string().min(1),
    key: z.string().min(1),
    /** Accepted as Kubernetes allows it; a GitHubSource secret is never optional in effect. */
    optional: z.boolean().optional(),
  }),
});

export type SecretValueFromSource = z.infer<typeof secretValueFromSourceSchema>;

const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

/** `owner/repo` or `org`, split; undefined when it is neither. */
export function parseOwnerAndRepository(value: string): { owner: string; repo?: string } | undefined {
  const parts = value.split('/');
  if (parts.length > 2) return undefined;
  const [owner, repo] = parts as [string, string | undefined];
  if (!OWNER.test(owner)) return undefined;
  if (repo === undefined) return { owner };
  if (!REPO.test(repo) || repo === '.' || repo === '..') return undefined;
  return { owner, repo };
}

const ownerAndRepositorySchema = z.string().superRefine((s, ctx) => {
  if (!parseOwnerAndRepository(s)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(s)} is not "owner/repository" nor an organization name (GitHub names are letters, digits, '-', and for repositories also '.' and '_')`,
    });
  }
});

/** GitHub event names: `push`, `pull_request`, `projects_v2_item`. */
export const GITHUB_EVENT_NAME = /^[a-z][a-z0-9_]*$/;

/** A GitHub webhook event name (`pull_request`), or `*` for every event. */
export const gitHubEventNameSchema = z.string().superRefine((s, ctx) => {
  if (s !== ALL_GITHUB_EVENTS && !GITHUB_EVENT_NAME.test(s)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a GitHub webhook event name (lower-case letters, digits and '_', like "pull_request"), nor "*"` });
  }
});

function absoluteHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}

/** `spec` of `sources.knative.dev/v1alpha1` GitHubSource, field for field as knative-extensions/eventing-github. */
export const gitHubSourceSpecSchema = z.strictObject({
  ownerAndRepository: ownerAndRepositorySchema,
  eventTypes: z.array(gitHubEventNameSchema).superRefine((list, ctx) => {
    if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'at least one GitHub event type is required (e.g. ["push", "pull_request"])' });
  }),
  /** Token allowed to manage the repository's (or organization's) webhooks; without it the webhook is not registered. */
  accessToken: secretValueFromSourceSchema.optional(),
  /** Shared secret GitHub signs deliveries with (X-Hub-Signature-256); without it deliveries are accepted unsigned. */
  secretToken: secretValueFromSourceSchema.optional(),
  githubAPIURL: z
    .string()
    .refine(absoluteHttpUrl, { message: 'must be an absolute http(s) URL such as https://github.example.com/api/v3' })
    .optional(),
  secure: z.boolean().optional(),
  /** Meaningful only in a cluster; accepted so that Knative YAML loads unchanged. */
  serviceAccountName: z.string().min(1).optional(),
  sink: destinationSchema,
  ceOverrides: ceOverridesSchema.optional(),
});

export type GitHubSourceSpec = z.infer<typeof gitHubSourceSpecSchema>;
/** The spec as written (before defaults). */
export type GitHubSourceSpecInput = z.input<typeof gitHubSourceSpecSchema>;

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
