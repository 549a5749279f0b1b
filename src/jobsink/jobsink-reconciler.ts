import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BufferBudget } from '../channels/memory/index.js';
import type { ContainerSupport } from '../container/index.js';
import type { Metrics } from '../observability/metrics.js';
import { NotFoundError } from '../errors.js';
import type { SpawnSupervised } from '../process/index.js';
import { nsKey, type Resource } from '../resources/types.js';
import { runtimeEnvLookup } from '../runtime/env-resolver.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { ignoredFields, jobRunner, jobSinkIssues, jobSinkKind, jobSinkLimits, type JobSinkSpec } from './jobsink-kind.js';
import { JobJournal } from './job-journal.js';
import { JobSink } from './jobsink.js';

export interface JobSinkReconcilerOptions {
  /** The server's container runtime, for jobs with an image. */
  containers?: ContainerSupport | undefined;
  /** Jobs shown in the resource's status (default 10); the admin route lists up to `history`. */
  statusJobs?: number;
  /** Finished jobs kept per JobSink (default 100). */
  history?: number;
  /** The process-wide byte budget (`--max-buffered-bytes`) queued and running jobs' events count against. */
  budget?: BufferBudget | undefined;
  spawn?: SpawnSupervised;
  /**
   * Where each JobSink keeps its accepted events until their jobs are over
   * (`<data dir>/jobsinks`): they run again after a crash or restart. None: memory only.
   */
  journalDir?: string | undefined;
  /** Counts events lost from a journal (`sluice_events_failed_total{reason="journal_unreadable"}`). */
  metrics?: Metrics | undefined;
}

/** The path of a JobSink under the ingress: `jobsinks/<ns>/<name>`. */
export const jobSinkPath = (namespace: string, name: string): string => `jobsinks/${namespace}/${name}`;

/**
 * Runs `sinks.knative.dev/v1alpha1` JobSinks: each an ingress target at
 * `<publicUrl>/jobsinks/<ns>/<name>` and resolvable as `ref: {kind: JobSink}`, with its
 * job counts and recent jobs in its status. Deleting one (or shutting down) stops its jobs;
 * with a journal, a shutdown keeps their events to run at the next start, a delete drops them.
 */
export class JobSinkReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly sinks = new Map<string, JobSink>();
  readonly #o: JobSinkReconcilerOptions;
  #ctx: ReconcileContext | undefined;
  #resources = new Map<string, Resource<JobSinkSpec>>();
  #registered = false;
  #statusTimer: NodeJS.Timeout | undefined;
  #dirty = new Set<string>();

  constructor(options: JobSinkReconcilerOptions = {}) {
    this.#o = options;
  }

  url(namespace: string, name: string): string {
    return `${this.#ctx?.publicUrl ?? ''}/${jobSinkPath(namespace, name)}`;
  }

  async reconcile(ctx: ReconcileContext): Promise<void> {
    this.#ctx = ctx;
    if (!this.#registered) {
      ctx.addresses.register(jobSinkKind.kind, (ref) => (this.sinks.has(nsKey(ref.namespace, ref.name)) ? { url: this.url(ref.namespace, ref.name) } : undefined));
      this.#registered = true;
    }
    const envLookup = runtimeEnvLookup(ctx);
    const desired = new Set<string>();
    const listed = new Set<string>();
    for (const { resource, origin } of ctx.list<JobSinkSpec>(jobSinkKind.kind)) {
      const { namespace, name, annotations } = resource.metadata;
      const key = nsKey(namespace, name);
      listed.add(key);
      // Validated on load; checked again for resources built in code.
      const issues = jobSinkIssues(resource.spec, annotations);
      if (issues.length) {
        ctx.setStatus(resource, readyStatus(false, 'InvalidSpec', issues.map((i) => `${i.path}: ${i.message}`).join('; ')));
        continue;
      }
      desired.add(key);
      this.#resources.set(key, resource);
      const { limits } = jobSinkLimits(annotations);
      const baseDir = origin?.file ? dirname(origin.file) : undefined;
      let sink = this.sinks.get(key);
      if (sink) {
        sink.update(resource.spec, annotations, limits, baseDir);
      } else {
        sink = new JobSink(
          {
            namespace,
            name,
            logger: ctx.logger,
            containers: this.#o.containers,
            envLookup,
            baseDir,
            onChange: () => this.#changed(key),
            ...(this.#o.history ? { history: this.#o.history } : {}),
            ...(this.#o.spawn ? { spawn: this.#o.spawn } : {}),
            budget: this.#o.budget,
            journal: this.#o.journalDir ? new JobJournal(join(this.#o.journalDir, namespace, name)) : undefined,
            onLost: (reason) => this.#o.metrics?.eventsFailed.inc({ namespace_name: namespace, resource: name, subscription: '', reason }),
          },
          resource.spec,
          annotations,
          limits,
        );
        this.sinks.set(key, sink);
        // What was accepted before a crash or restart runs before anything new is taken.
        await sink.restore().catch((err: unknown) => ctx.logger.error({ err, jobsink: key }, 'could not read the JobSink journal; its earlier jobs do not run'));
        ctx.targets.paths.set(jobSinkPath(namespace, name), sink);
      }
      this.#writeStatus(key);
    }
    for (const [key, sink] of [...this.sinks]) {
      if (desired.has(key)) continue;
      this.sinks.delete(key);
      this.#resources.delete(key);
      ctx.targets.paths.delete(jobSinkPath(sink.namespace, sink.name));
      // Deleted: its unfinished jobs go with it. Still there but invalid now: they wait in the journal for a fixed spec.
      await sink.close(undefined, { forget: !listed.has(key) });
    }
  }

  async close(deadline: number): Promise<void> {
    clearTimeout(this.#statusTimer);
    const grace = Math.max(0, deadline - Date.now());
    await Promise.allSettled([...this.sinks.values()].map((s) => s.close(Math.min(grace, 10_000))));
  }

  /** Status writes are coalesced: a burst of job changes costs one write per JobSink. */
  #changed(key: string): void {
    this.#dirty.add(key);
    this.#statusTimer ??= setTimeout(() => {
      this.#statusTimer = undefined;
      for (const k of this.#dirty) this.#writeStatus(k);
      this.#dirty.clear();
    }, 20);
    this.#statusTimer.unref?.();
  }

  #writeStatus(key: string): void {
    const sink = this.sinks.get(key);
    const resource = this.#resources.get(key);
    if (!sink || !resource || !this.#ctx) return;
    const runner = jobRunner(resource.spec, resource.metadata.annotations);
    const ignored = ignoredFields(resource.spec, runner);
    this.#ctx.setStatus(
      resource,
      readyStatus(true, 'JobSinkReady', undefined, {
        address: { url: this.url(sink.namespace, sink.name) },
        runner,
        jobs: sink.counts(),
        recentJobs: sink.jobs(this.#o.statusJobs ?? 10),
        ...(ignored.length ? { ignored } : {}),
      }),
    );
  }

  /** Admin routes: `GET /api/v1/jobsinks/:namespace/:name/jobs` (newest first) and `.../jobs/:id`. */
  adminRoutes(): (app: FastifyInstance) => void {
    return (app) => {
      const sinkOf = (p: { namespace: string; name: string }) => {
        const sink = this.sinks.get(nsKey(p.namespace, p.name));
        if (!sink) throw new NotFoundError(`JobSink ${p.namespace}/${p.name} not found`);
        return sink;
      };
      app.get('/api/v1/jobsinks/:namespace/:name/jobs', async (req) => {
        const sink = sinkOf(req.params as { namespace: string; name: string });
        return { counts: sink.counts(), items: sink.jobs() };
      });
      app.get('/api/v1/jobsinks/:namespace/:name/jobs/:id', async (req) => {
        const p = req.params as { namespace: string; name: string; id: string };
        const job = sinkOf(p).job(p.id);
        if (!job) throw new NotFoundError(`job ${p.id} of JobSink ${p.namespace}/${p.name} not found`);
        return job;
      });
    };
  }
}
