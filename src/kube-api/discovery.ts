import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KubeKind, KubeKinds } from './kube-kinds.js';
import { kubeStatus } from './kube-status.js';

// Kubernetes API discovery for Sluice's kinds: what kubectl reads before anything else to
// map `brokers`, `brk` or `Broker` to a group, version and URL (`kubectl api-resources`,
// `api-versions`, and every `get`/`apply`). Both forms are served:
// - legacy discovery: /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v> (one request per
//   group version), which every client understands;
// - aggregated discovery v2 (apidiscovery.k8s.io/v2) on /api and /apis, which kubectl
//   1.30+ asks for first: everything in two requests. A client that does not ask for it
//   (Accept without the g/v/as parameters) gets the legacy form.

/** What `GET /version` reports. `gitVersion` must be semver: `kubectl version` fails on anything else. */
export interface ServerVersion {
  gitVersion: string;
  /** RFC 3339; empty when unknown (a `npm` build records none). */
  buildDate?: string;
}

/** Verbs the Kubernetes-shaped API serves on every kind. */
export const KIND_VERBS: readonly string[] = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
/** Verbs of the `status` subresource. */
export const STATUS_VERBS: readonly string[] = ['get', 'patch', 'update'];

const AGGREGATED_V2 = { g: 'apidiscovery.k8s.io', v: 'v2', as: 'APIGroupDiscoveryList' };
const AGGREGATED_V2_CONTENT_TYPE = `application/json;g=${AGGREGATED_V2.g};v=${AGGREGATED_V2.v};as=${AGGREGATED_V2.as}`;

/**
 * Sluice's version as a Kubernetes server reports it: `v<package version>-sluice`. The
 * `-sluice` pre-release tag keeps it valid semver (kubectl parses it) while saying it is
 * not a Kubernetes release.
 */
export function sluiceServerVersion(): ServerVersion {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  // A version that already has a pre-release or build part is reported as it is.
  return { gitVersion: /^\d+\.\d+\.\d+$/.test(pkg.version) ? `v${pkg.version}-sluice` : `v${pkg.version}` };
}

/** The `/version` body: version.Info of apimachinery. */
export function versionInfo(version: ServerVersion): Record<string, string> {
  // major/minor are Sluice's own, not a Kubernetes release's: kubectl never reads them (its
  // skew check, `kubectl version`, parses gitVersion), so claiming "1"/"32" would gain
  // nothing; kubectl prints a skew warning on stderr, which is the truth.
  const m = /^v?(\d+)\.(\d+)/.exec(version.gitVersion);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  return {
    major: m?.[1] ?? '',
    minor: m?.[2] ?? '',
    gitVersion: version.gitVersion,
    gitCommit: '',
    gitTreeState: '',
    buildDate: version.buildDate ?? '',
    goVersion: '',
    compiler: '',
    platform: `${process.platform}/${arch}`,
  };
}

const KUBE_VERSION = /^v(\d+)(?:(alpha|beta)(\d+))?$/;

/**
 * Kubernetes' version priority (CompareKubeAwareVersionStrings): GA before beta before
 * alpha, higher numbers first; versions not shaped like `v1beta2` last, alphabetically.
 */
export function compareKubeVersions(a: string, b: string): number {
  const ma = KUBE_VERSION.exec(a);
  const mb = KUBE_VERSION.exec(b);
  if (!ma || !mb) return ma ? -1 : mb ? 1 : a.localeCompare(b);
  const stability = (m: RegExpExecArray) => (m[2] === undefined ? 2 : m[2] === 'beta' ? 1 : 0);
  return stability(mb) - stability(ma) || Number(mb[1]) - Number(ma[1]) || Number(mb[3] ?? 0) - Number(ma[3] ?? 0);
}

/** Each group with its versions, the preferred (highest priority) first. */
function groupsOf(kinds: KubeKinds): Array<{ name: string; versions: string[] }> {
  return kinds.groups().map((g) => ({ name: g.name, versions: [...g.versions].sort(compareKubeVersions) }));
}

const groupVersion = (group: string, version: string) => (group ? `${group}/${version}` : version);

function apiGroup(group: { name: string; versions: string[] }) {
  const versions = group.versions.map((v) => ({ groupVersion: groupVersion(group.name, v), version: v }));
  return { name: group.name, versions, preferredVersion: versions[0] };
}

/** `APIResourceList` entries of one group version: each kind, then its status subresource. */
function apiResources(kinds: KubeKind[]) {
  return kinds.flatMap((k) => {
    const main = { name: k.plural, singularName: k.singular, namespaced: true, kind: k.kind, verbs: KIND_VERBS, shortNames: k.shortNames, categories: k.categories };
    // Secret and ConfigMap have no status to write.
    if (k.topLevel) return [main];
    return [main, { name: `${k.plural}/status`, singularName: '', namespaced: true, kind: k.kind, verbs: STATUS_VERBS }];
  });
}

/** One version of aggregated discovery (apidiscovery.k8s.io/v2 APIVersionDiscovery). */
function versionDiscovery(kinds: KubeKinds, group: string, version: string) {
  const resources = kinds.inGroupVersion(group, version).map((k) => {
    const responseKind = { group, version, kind: k.kind };
    return {
      resource: k.plural,
      responseKind,
      scope: 'Namespaced',
      singularResource: k.singular,
      verbs: KIND_VERBS,
      shortNames: k.shortNames,
      categories: k.categories,
      subresources: k.topLevel ? [] : [{ subresource: 'status', responseKind, verbs: STATUS_VERBS }],
    };
  });
  return { version, resources, freshness: 'Current' };
}

function aggregatedList(items: unknown[]) {
  return { kind: AGGREGATED_V2.as, apiVersion: `${AGGREGATED_V2.g}/${AGGREGATED_V2.v}`, metadata: {}, items };
}

/**
 * True when the Accept header prefers aggregated discovery v2 over plain JSON: the first
 * media range (highest q first, then header order) that Sluice can serve decides.
 */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((range, index) => {
    const [type = '', ...rawParams] = range.split(';').map((s) => s.trim());
    const params = new Map(rawParams.map((p) => {
      const eq = p.indexOf('=');
      return [p.slice(0, eq < 0 ? p.length : eq).trim().toLowerCase(), eq < 0 ? '' : p.slice(eq + 1).trim()] as const;
    }));
    const q = params.has('q') ? Number(params.get('q')) : 1;
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0, index };
  });
  ranges.sort((a, b) => b.q - a.q || a.index - b.index);
  for (const r of ranges) {
    if (r.q <= 0) continue;
    const aggregated = r.type === 'application/json' && r.params.get('g') === AGGREGATED_V2.g && r.params.get('v') === AGGREGATED_V2.v && r.params.get('as') === AGGREGATED_V2.as;
    if (aggregated) return true;
    // Other aggregated forms (v2beta1, protobuf) are skipped: the next range may still be ours.
    if (r.params.has('g') || r.params.has('as')) continue;
    if (r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*') return false;
  }
  return false;
}

/** Sends `legacy` or `aggregated()` depending on Accept; Vary so that caches keep both apart. */
function negotiate(req: FastifyRequest, reply: FastifyReply, legacy: () => unknown, aggregated: () => unknown): FastifyReply {
  reply.header('vary', 'Accept');
  if (wantsAggregatedDiscovery(req.headers.accept)) {
    // A Buffer, so that fastify sends the content type as written (a string would be re-quoted and get a charset).
    return reply.type(AGGREGATED_V2_CONTENT_TYPE).send(Buffer.from(JSON.stringify(aggregated())));
  }
  return reply.type('application/json').send(JSON.stringify(legacy()));
}

function notFound(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(404).type('application/json').send(JSON.stringify(kubeStatus(404, 'NotFound', message)));
}

/** Fastify plugin: `/version` and API discovery (legacy and aggregated v2) for `kinds`. */
export function discoveryRoutes(kinds: KubeKinds, version: ServerVersion): (app: FastifyInstance) => Promise<void> {
  return async (app: FastifyInstance): Promise<void> => {
    // Kinds do not change while the server runs: groups and versions are sorted once.
    const info = versionInfo(version);
    const groups = groupsOf(kinds);
    const coreVersions = [...new Set(kinds.all.filter((k) => k.group === '').flatMap((k) => k.versions))].sort(compareKubeVersions);

    app.get('/version', async (_req, reply) => reply.type('application/json').send(JSON.stringify(info)));

    app.get('/api', async (req, reply) =>
      negotiate(
        req,
        reply,
        () => ({ kind: 'APIVersions', versions: coreVersions, serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] }),
        () => aggregatedList([{ metadata: { creationTimestamp: null }, versions: coreVersions.map((v) => versionDiscovery(kinds, '', v)) }]),
      ),
    );

    app.get<{ Params: { version: string } }>('/api/:version', async (req, reply) => {
      const v = req.params.version;
      if (!coreVersions.includes(v)) return notFound(reply, `the server could not find the requested resource: /api/${v}`);
      return reply.type('application/json').send(JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: v, resources: apiResources(kinds.inGroupVersion('', v)) }));
    });

    app.get('/apis', async (req, reply) =>
      negotiate(
        req,
        reply,
        () => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(apiGroup) }),
        () =>
          aggregatedList(
            groups.map((g) => ({ metadata: { name: g.name, creationTimestamp: null }, versions: g.versions.map((v) => versionDiscovery(kinds, g.name, v)) })),
          ),
      ),
    );

    app.get<{ Params: { group: string } }>('/apis/:group', async (req, reply) => {
      const group = groups.find((g) => g.name === req.params.group);
      if (!group) return notFound(reply, `the server could not find the requested resource: group ${req.params.group} is not served`);
      return reply.type('application/json').send(JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) }));
    });

    app.get<{ Params: { group: string; version: string } }>('/apis/:group/:version', async (req, reply) => {
      const { group, version: v } = req.params;
      const served = kinds.inGroupVersion(group, v);
      if (group === '' || served.length === 0) return notFound(reply, `the server could not find the requested resource: ${group}/${v} is not served`);
      return reply.type('application/json').send(JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${v}`, resources: apiResources(served) }));
    });
  };
}
