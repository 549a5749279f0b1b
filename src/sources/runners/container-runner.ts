import { isAbsolute, resolve as resolvePath } from 'node:path';
import { InvalidOptionError, NotReadyError } from '../../errors.js';
import { ContainerSource, type ContainerSourceSpec } from '../container/index.js';
import { containerSourceKind } from '../container/container-source-kind.js';
import type { BindingSubject, BoundSinkBinding } from '../sinkbinding/index.js';
import { secretDigest, type SourceContext, type SourceRunner } from './source-runner.js';

/**
 * Runs ContainerSources as supervised local processes with K_SINK and K_CE_OVERRIDES.
 * A SinkBinding whose subject is the ContainerSource wins over its own sink, as the
 * binding's webhook would rewrite the pod's environment in Knative.
 */
export const containerRunner: SourceRunner<ContainerSourceSpec> = {
  definition: containerSourceKind,
  restartKey(ctx) {
    const { spec } = ctx.resource;
    const binding = bindingOf(ctx);
    const secrets = (spec.template.spec.containers[0]?.env ?? [])
      .filter((e) => e.valueFrom)
      .map((e) => secretDigest(ctx.secret(e.valueFrom!.secretKeyRef.name, e.valueFrom!.secretKeyRef.key)) ?? 'missing');
    return [binding ? [binding.name, binding.sinkUrl, binding.spec.ceOverrides] : null, secrets];
  },
  build(ctx) {
    const { namespace, name } = ctx.resource.metadata;
    const own = ctx.resource.spec;
    const binding = bindingOf(ctx);
    const spec = withBaseDir(binding ? { ...own, ceOverrides: binding.spec.ceOverrides ?? own.ceOverrides } : own, ctx.baseDir);
    const sinkUrl = binding ? binding.sinkUrl : ctx.emitter.localSinkUri;
    const source = new ContainerSource({
      namespace,
      name,
      spec,
      sinkUrl,
      logger: ctx.logger,
      resolveSecret: (ref) => ctx.secret(ref.name, ref.key),
    });
    return {
      source,
      status: () => ({
        fields: {
          ...(binding ? { sinkUri: binding.sinkUrl, sinkBinding: `${binding.namespace}/${binding.name}` } : {}),
          restarts: source.restarts,
        },
      }),
      failureReason: (err) => (err instanceof NotReadyError ? 'SecretNotFound' : err instanceof InvalidOptionError ? 'CannotRun' : 'StartFailed'),
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
