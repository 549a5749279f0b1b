import { SluiceServer, type SluiceServerOptions } from '../../src/server/sluice-server.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createSluiceKinds } from '../../src/kinds.js';

/** A Sluice broker in this process on ephemeral ports, loaded with the given YAML. */
export async function startSluice(yaml: string, options: Partial<SluiceServerOptions> = {}): Promise<SluiceServer & { url: string }> {
  const server = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 5000, ...options });
  await server.listen();
  const loaded = parseResourcesText(yaml, 'test.yaml', { registry: createSluiceKinds() });
  if (loaded.errors.length) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  await server.runtime.apply(loaded.resources, loaded.secrets);
  return Object.assign(server, { url: server.ingressUrl });
}

export function channelYaml(name: string, extra = ''): string {
  return `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ${name}}
${extra ? extra + '\n' : ''}`;
}

export function subscriptionYaml(name: string, channel: string, subscriber: string, more = ''): string {
  return `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${channel}}
  subscriber: {uri: "${subscriber}"}
${more}`;
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
