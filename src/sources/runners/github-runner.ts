import type { Condition } from '../../resources/types.js';
import { GitHubSource, gitHubEventType, type GitHubSourceSpec, type SecretValueFromSource } from '../github/index.js';
import { ALL_GITHUB_EVENTS } from '../github/github-event-names.js';
import { gitHubSourceKind } from '../github/github-source-kind.js';
import { secretDigest, type AdapterStatus, type RunningSource, type SourceContext, type SourceRunner } from './source-runner.js';

/** Runs GitHubSources: webhook receiver on `/sources/<ns>/<name>`, and hook registration with an accessToken. */
export const gitHubRunner: SourceRunner<GitHubSourceSpec> = {
  definition: gitHubSourceKind,
  webhook: true,
  restartKey(ctx) {
    const { spec } = ctx.resource;
    // A new secretToken or accessToken must reach GitHub: re-register with them.
    return [ctx.publicUrl, digestOf(ctx, spec.accessToken), digestOf(ctx, spec.secretToken)];
  },
  build(ctx) {
    const { spec } = ctx.resource;
    const { namespace, name } = ctx.resource.metadata;
    // Deleting a GitHubSource removes its hook, which needs the token even when its
    // Secret went first: remember the values seen, and fall back to them only then.
    const seen = new Map<string, Buffer>();
    let retiring = false;
    const source = new GitHubSource({
      namespace,
      name,
      spec,
      publicUrl: ctx.publicUrl,
      logger: ctx.logger,
      ...ctx.github,
      resolveSecret: (secret, key) => {
        const v = ctx.secret(secret, key);
        if (v !== undefined) seen.set(`${secret}/${key}`, v);
        return v ?? (retiring ? seen.get(`${secret}/${key}`) : undefined);
      },
    });
    const identity = hookIdentity(spec, source.webhookUrl);
    const running: RunningSource & { identity: string } = {
      source,
      webhook: source,
      identity,
      status: () => statusOf(ctx, spec, source),
      async retire(why, next) {
        // Shutdown keeps the hook (GitHub redelivers once Sluice is back); a replacement
        // with the same repository and URL updates it in place.
        const sameHook = !next || (next as { identity?: string }).identity === identity;
        if (why === 'shutdown' || (why === 'replaced' && sameHook)) return source.stop();
        retiring = true;
        try {
          await source.deregister();
        } catch (err) {
          ctx.logger.warn({ err, source: `GitHubSource ${namespace}/${name}` }, 'could not remove the webhook from GitHub; remove it by hand');
        }
      },
    };
    return running;
  },
};

function digestOf(ctx: Pick<SourceContext, 'secret'>, ref: SecretValueFromSource | undefined): string | undefined {
  return ref ? (secretDigest(ctx.secret(ref.secretKeyRef.name, ref.secretKeyRef.key)) ?? 'missing') : undefined;
}

function hookIdentity(spec: GitHubSourceSpec, url: string | undefined): string {
  return JSON.stringify([spec.githubAPIURL ?? '', spec.ownerAndRepository, url ?? '', spec.accessToken !== undefined]);
}

function statusOf(ctx: SourceContext<GitHubSourceSpec>, spec: GitHubSourceSpec, source: GitHubSource): AdapterStatus {
  const adapter = source.status();
  const missing = (['secretToken', 'accessToken'] as const)
    .filter((f) => spec[f] && ctx.secret(spec[f].secretKeyRef.name, spec[f].secretKeyRef.key) === undefined)
    .map((f) => `spec.${f}: secret ${ctx.resource.metadata.namespace}/${spec[f]!.secretKeyRef.name} has no key ${JSON.stringify(spec[f]!.secretKeyRef.key)} (or does not exist)`);
  const now = new Date().toISOString();
  // Checked against the Secrets now, not only when a delivery needed them.
  const secrets: Condition = missing.length
    ? { type: 'SecretsProvided', status: 'False', reason: 'SecretNotFound', message: missing.join('; '), lastTransitionTime: now }
    : (adapter.conditions.find((c) => c.type === 'SecretsProvided' && c.status === 'True') ?? {
        type: 'SecretsProvided',
        status: 'True',
        reason: spec.secretToken ? 'SecretsResolved' : 'Unsigned',
        lastTransitionTime: now,
      });
  const webhook = adapter.conditions.find((c) => c.type === 'WebhookConfigured');
  const url = source.webhookUrl;
  const fields: Record<string, unknown> = {
    ...(url ? { webhookUrl: url, address: { url } } : {}),
    ...(adapter.webhookIDKey ? { webhookIDKey: adapter.webhookIDKey } : {}),
    ceAttributes: spec.eventTypes.filter((t) => t !== ALL_GITHUB_EVENTS).map((t) => ({ type: gitHubEventType(t), source: source.eventSource })),
  };
  let notReady: AdapterStatus['notReady'];
  if (secrets.status === 'False') notReady = { status: 'False', reason: 'SecretNotFound', message: secrets.message };
  else if (webhook && webhook.status !== 'True') notReady = { status: webhook.status, reason: webhook.reason ?? 'WebhookNotConfigured', message: webhook.message };
  return { conditions: [secrets, ...(webhook ? [webhook] : [])], fields, notReady };
}
