import { createHash } from 'node:crypto';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { RUNNER_ANNOTATION } from '../../activator/service-spec.js';
import { envSourcesOf } from '../../resources/container-schemas.js';
import { ContainerSource, containerSourceRunner, type ContainerSourceSpec } from '../container/index.js';
import { containerSourceKind } from '../container/container-source-kind.js';
import type { BindingSubject, BoundSinkBinding } from '../sinkbinding/index.js';
import type { SourceContext, SourceRunner } from './source-runner.js';

/**
 * Runs ContainerSources with K_SINK and K_CE_OVERRIDES: their command as a supervised
 * local process, or their image as a container through Docker or Podman. A SinkBinding
 * whose subject is the ContainerSource wins over its own sink, as the binding's webhook
 * would rewrite the pod's environment in Knative.
 */
export const containerRunner: SourceRunner<ContainerSourceSpec> = {
  definition: containerSourceKind,
  restartKey(ctx) {
    const { spec, metadata } = ctx.resource;
    const binding = bindingOf(ctx);
    const c = spec.template.spec.containers[0];
    // A changed Secret or ConfigMap value restarts the source with the new environment.
    const values = envSourcesOf(c?.env, c?.envFrom).map((s) => {
      if (s.kind === 'value') return null;
      const secret = s.kind === 'secret' || s.kind === 'secretKey';
      const data = secret ? ctx.envLookup.secret(metadata.namespace, s.from) : ctx.envLookup.configMap(metadata.namespace, s.from);
      return digest('key' in s ? data?.[s.key] : data);
    });
    return [binding ? [binding.name, binding.sinkUrl, binding.spec.ceOverrides] : null, values, metadata.annotations?.[RUNNER_ANNOTATION] ?? null];
  },
  build(ctx) {
    const { namespace, name, annotations } = ctx.resource.metadata;
    const own = ctx.resource.spec;
    const binding = bindingOf(ctx);
    const withOverrides = binding ? { ...own, ceOverrides: binding.spec.ceOverrides ?? own.ceOverrides } : own;
    // A container's workingDir is a path inside its image, not the YAML file's folder.
    const spec = containerSourceRunner(own, annotations) === 'process' ? withBaseDir(withOverrides, ctx.baseDir) : withOverrides;
    const sinkUrl = binding ? binding.sinkUrl : ctx.emitter.localSinkUri;
    const source = new ContainerSource({
      namespace,
      name,
      spec,
      annotations,
      sinkUrl,
      logger: ctx.logger,
      envLookup: ctx.envLookup,
      containers: ctx.containers,
    });
    return {
      source,
      status: () => {
        const exit = source.lastExit;
        const stderr = source.lastStderr;
        return {
          fields: {
            ...(binding ? { sinkUri: binding.sinkUrl, sinkBinding: `${binding.namespace}/${binding.name}` } : {}),
            runner: source.runner,
            ...(source.image ? { image: source.image } : {}),
            restarts: source.restarts,
            ...(exit
              ? {
                  lastExit: {
                    ...(exit.code !== null ? { exitCode: exit.code } : {}),
                    ...(exit.signal ? { signal: exit.signal } : {}),
                    ...(exit.error || stderr ? { message: exit.error ?? stderr } : {}),
                  },
                }
              : {}),
            ...(source.ignored.length ? { ignored: [...source.ignored] } : {}),
          },
        };
      },
      failureReason: (err) => source.failureReason(err),
    };
  },
};

/** How a ContainerSource appears to SinkBindings: its kind, name and labels (its own and its template's). */
export function containerSubject(ctx: Pick<SourceContext<ContainerSourceSpec>, 'resource'>): BindingSubject {
  const { resource: r } = ctx;
  const { spec } = r;
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.metadata.namespace,
    name: r.metadata.name,
    labels: { ...r.metadata.labels, ...spec.template.metadata?.labels },
  };
}

/** A relative workingDir is relative to the YAML file's folder, as for Services, so examples run from anywhere. */
function withBaseDir(spec: ContainerSourceSpec, baseDir: string | undefined): ContainerSourceSpec {
  const c = spec.template.spec.containers[0];
  if (!c?.workingDir || isAbsolute(c.workingDir) || !baseDir) return spec;
  const containers = [{ ...c, workingDir: resolvePath(baseDir, c.workingDir) }, ...spec.template.spec.containers.slice(1)];
  return { ...spec, template: { ...spec.template, spec: { ...spec.template.spec, containers } } };
}

function bindingOf(ctx: Pick<SourceContext<ContainerSourceSpec>, 'resource' | 'sinkBindings'>): BoundSinkBinding | undefined {
  return ctx.sinkBindings.bindingsFor(containerSubject(ctx))[0];
}

/** A short digest of a Secret or ConfigMap value (or all of one), so a restart key sees a change without holding it. */
function digest(value: Buffer | string | Readonly<Record<string, Buffer | string>> | undefined): string {
  if (value === undefined) return 'missing';
  const h = createHash('sha256');
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    h.update(value);
  } else {
    for (const k of Object.keys(value).sort()) h.update(k).update('\0').update(value[k]!).update('\0');
  }
  return h.digest('base64url').slice(0, 16);
}
