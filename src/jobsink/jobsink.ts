import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ContainerRuntime, ContainerSupport, PullPolicy } from '../container/index.js';
import { SluiceError, UnavailableError } from '../errors.js';
import { toStructuredJson } from '../events/index.js';
import type { SluiceEvent } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import type { SpawnSupervised, SupervisedProcess } from '../process/index.js';
import type { EnvLookup } from '../runtime/env-resolver.js';
import type { IngressTarget } from '../runtime/ingress-targets.js';
import { eventBytes, type BufferBudget } from '../channels/memory/index.js';
import type { JobJournal } from './job-journal.js';
import { launchAttempt } from './job-launcher.js';
import { DEFAULT_BACKOFF_LIMIT, jobRunner, type JobRunner, type JobSinkLimits, type JobSinkSpec } from './jobsink-kind.js';

/** The JobSink holds as many jobs as it may (running plus queued): the sender should retry later (429, Retry-After). */
export class JobQueueFullError extends SluiceError {
  readonly code = 'SLUICE_ERR_JOBSINK_FULL';
  override readonly statusCode = 429;
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One job as the admin API shows it. */
export interface JobRecord {
  /** The event's id and a sequence number of this JobSink: `<event id>-<n>`. */
  id: string;
  eventId: string;
  eventSource: string;
  eventType: string;
  state: JobState;
  runner: JobRunner;
  /** Attempts started so far (1 + retries). */
  attempts: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  exitCode?: number;
  signal?: string;
  /** Why it failed: `Error` (non-zero exit), `DeadlineExceeded`, `BackoffLimitExceeded`, `StartFailed`, `Stopped`. */
  reason?: string;
  /** The last line the job wrote to stderr (or why it could not start). */
  message?: string;
}

interface Job {
  record: JobRecord;
  event: SluiceEvent;
  /** The template as it was when the event arrived (Knative creates the Job then). */
  spec: JobSinkSpec;
  runner: JobRunner;
  limits: JobSinkLimits;
  /** What the event holds of the process's buffer budget until the job is over (0 once released). */
  bytes: number;
  proc?: SupervisedProcess | undefined;
  /** Its event's entry in the journal, removed when the job is over. */
  entry?: string | undefined;
  /** Wakes a backoff wait early (stop). */
  wake?: (() => void) | undefined;
}

export interface JobSinkOptions {
  namespace: string;
  name: string;
  logger: Logger;
  containers: ContainerSupport | undefined;
  envLookup: EnvLookup;
  baseDir: string | undefined;
  /** Called whenever a job changes state (the reconciler refreshes the status). */
  onChange(): void;
  /** Finished jobs kept for the admin API (default 100). */
  history?: number;
  spawn?: SpawnSupervised;
  /**
   * The process-wide byte budget the in-memory channels share (`--max-buffered-bytes`):
   * a job's event holds its bytes until the job is over, so queued jobs are bounded in
   * bytes as well as in count.
   */
  budget?: BufferBudget | undefined;
  /** Where accepted events wait until their job is over (under `--data-dir`); none: memory only. */
  journal?: JobJournal | undefined;
  /** An accepted event is lost: its journal entry could not be read back (counted by the caller). */
  onLost?: ((reason: 'journal_unreadable') => void) | undefined;
}

const BACKOFF_CAP_MS = 60_000;

/**
 * One JobSink: takes events (as an ingress target: 202 once the job is created, queued or
 * started), runs a job per event with at most `maxConcurrent` at once and `maxQueued`
 * waiting, retries failed ones up to `backoffLimit` times, and keeps the recent ones.
 */
export class JobSink implements IngressTarget {
  readonly kind = 'jobsink' as const;
  readonly namespace: string;
  readonly name: string;
  #o: JobSinkOptions;
  #spec!: JobSinkSpec;
  #annotations: Readonly<Record<string, string>> | undefined;
  #limits!: JobSinkLimits;
  #seq = 0;
  #queue: Job[] = [];
  #running = new Set<Job>();
  #history: JobRecord[] = [];
  #succeeded = 0;
  #failed = 0;
  #closed = false;
  /** Events being written to the journal: they hold room and count as having a job. */
  #admitting = new Set<string>();
  #images = new Map<string, Promise<void>>();
  readonly #tag = randomBytes(3).toString('hex');
  #log: Logger;

  constructor(options: JobSinkOptions, spec: JobSinkSpec, annotations: Readonly<Record<string, string>> | undefined, limits: JobSinkLimits) {
    this.#o = options;
    this.namespace = options.namespace;
    this.name = options.name;
    this.#log = options.logger.child({ component: 'jobsink', jobsink: `${options.namespace}/${options.name}` });
    this.update(spec, annotations, limits, options.baseDir);
  }

  /** A changed template applies to jobs created from now on; changed limits at once. */
  update(spec: JobSinkSpec, annotations: Readonly<Record<string, string>> | undefined, limits: JobSinkLimits, baseDir: string | undefined): void {
    this.#spec = spec;
    this.#annotations = annotations;
    this.#limits = limits;
    this.#o = { ...this.#o, baseDir };
    // Images are checked again after a change (a new tag, a pull policy).
    this.#images.clear();
    this.#pump();
  }

  get runner(): JobRunner {
    return jobRunner(this.#spec, this.#annotations);
  }

  notReadyReason(): string | undefined {
    return this.#closed ? 'the JobSink is being removed' : undefined;
  }

  accept(incoming: readonly SluiceEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(new UnavailableError(`JobSink ${this.namespace}/${this.name} is being removed`));
    // At least once upstream means the same event may come again: like Knative, which names
    // the Job after the event, an event (source + id) that already has a job among the
    // kept ones starts none (one cancelled by a shutdown or removal may start again).
    const events = this.#withoutJobs(incoming);
    if (events.length === 0) return Promise.resolve();
    const { maxConcurrent, maxQueued } = this.#limits;
    const room = Math.max(0, maxConcurrent - this.#running.size) + Math.max(0, maxQueued - this.#queue.length) - this.#admitting.size;
    if (events.length > room) {
      return Promise.reject(
        new JobQueueFullError(
          `JobSink ${this.namespace}/${this.name} is full: ${this.#running.size} jobs running (at most ${maxConcurrent}) and ${this.#queue.length} queued (at most ${maxQueued}); retry later`,
        ),
      );
    }
    const sizes = events.map(eventBytes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const budget = this.#o.budget;
    if (budget && !budget.tryReserve(total)) {
      return Promise.reject(
        new JobQueueFullError(
          `sluice's in-memory buffers are full (${budget.usedBytes} of ${budget.maxBytes} bytes held across channels and job sinks, --max-buffered-bytes); ` +
            `JobSink ${this.namespace}/${this.name} cannot hold ${total} more bytes of events; retry later`,
        ),
      );
    }
    const bytes = budget ? sizes : undefined;
    const journal = this.#o.journal;
    if (!journal) {
      this.#enqueue(events, bytes, undefined);
      return Promise.resolve();
    }
    return this.#journalAndEnqueue(journal, events, bytes, total);
  }

  /** Answers only once every event is on disk: a 202 then survives a crash. */
  async #journalAndEnqueue(journal: JobJournal, events: readonly SluiceEvent[], bytes: number[] | undefined, total: number): Promise<void> {
    const keys = events.map(eventKey);
    for (const k of keys) this.#admitting.add(k);
    const written = await Promise.allSettled(events.map((e) => journal.add(e)));
    for (const k of keys) this.#admitting.delete(k);
    const entries = written.flatMap((w) => (w.status === 'fulfilled' ? [w.value] : []));
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed || this.#closed) {
      if (bytes) this.#o.budget?.release(total);
      await Promise.allSettled(entries.map((e) => journal.remove(e)));
      if (failed) throw failed.reason;
      throw new UnavailableError(`JobSink ${this.namespace}/${this.name} is being removed`);
    }
    this.#enqueue(events, bytes, entries);
  }

  #enqueue(events: readonly SluiceEvent[], bytes: readonly number[] | undefined, entries: readonly string[] | undefined): void {
    const runner = this.runner;
    for (const [i, event] of events.entries()) {
      const a = event.attributes;
      const record: JobRecord = {
        id: `${a.id ?? ''}-${++this.#seq}`,
        eventId: a.id ?? '',
        eventSource: a.source ?? '',
        eventType: a.type ?? '',
        state: 'queued',
        runner,
        attempts: 0,
        createdAt: new Date().toISOString(),
      };
      this.#queue.push({ record, event, spec: this.#spec, runner, limits: this.#limits, bytes: bytes?.[i] ?? 0, entry: entries?.[i] });
      this.#history.push(record);
    }
    this.#prune();
    this.#pump();
    this.#o.onChange();
  }

  /**
   * Queues the jobs the journal still holds from before (Sluice was killed, or stopped
   * with jobs running or waiting), oldest first and ahead of new events. They were
   * answered 202 then, so the queue's bounds do not refuse them; they count against the
   * byte budget where it has room. Returns how many.
   */
  async restore(): Promise<number> {
    const journal = this.#o.journal;
    if (!journal) return 0;
    const left = await journal.load((file, reason) => {
      this.#log.error({ file, reason }, 'journal entry is not an event; set aside as .bad, its job does not run');
      this.#o.onLost?.('journal_unreadable');
    });
    if (left.length === 0) return 0;
    const budget = this.#o.budget;
    const bytes = left.map((j) => {
      const b = eventBytes(j.event);
      return budget?.tryReserve(b) ? b : 0;
    });
    this.#enqueue(
      left.map((j) => j.event),
      bytes,
      left.map((j) => j.entry),
    );
    this.#log.info({ jobs: left.length }, 'jobs left unfinished before the restart run again');
    return left.length;
  }

  #withoutJobs(events: readonly SluiceEvent[]): readonly SluiceEvent[] {
    const seen = new Set<string>(this.#admitting);
    for (const r of this.#history) if (r.state !== 'cancelled') seen.add(`${r.eventSource}\n${r.eventId}`);
    const out: SluiceEvent[] = [];
    for (const e of events) {
      const key = eventKey(e);
      if (seen.has(key)) {
        this.#log.debug({ eventId: e.attributes.id, eventSource: e.attributes.source }, 'event already has a job; none started');
        continue;
      }
      seen.add(key);
      out.push(e);
    }
    return out;
  }

  /** Jobs by state, and the recent ones (newest first). */
  counts(): { running: number; queued: number; succeeded: number; failed: number } {
    return { running: this.#running.size, queued: this.#queue.length, succeeded: this.#succeeded, failed: this.#failed };
  }

  jobs(limit = Infinity): JobRecord[] {
    const out: JobRecord[] = [];
    for (let i = this.#history.length - 1; i >= 0 && out.length < limit; i--) out.push({ ...this.#history[i]! });
    return out;
  }

  job(id: string): JobRecord | undefined {
    const r = this.#history.find((j) => j.id === id);
    return r ? { ...r } : undefined;
  }

  /**
   * Stops every running job (its process or container removed) and cancels the queued
   * ones. Their events stay in the journal and run again at the next start, unless
   * `forget` (the JobSink was deleted): then the journal goes too.
   */
  async close(graceMs?: number, options: { forget?: boolean } = {}): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) this.#finish(job, 'cancelled', { reason: 'Stopped', message: 'the JobSink was removed or Sluice shut down before the job started' });
    const running = [...this.#running];
    await Promise.allSettled(
      running.map(async (job) => {
        job.wake?.();
        await job.proc?.stop(graceMs ?? this.#graceMs(job));
      }),
    );
    // The run loops see #closed and end; wait until their temp files are gone.
    await Promise.allSettled(running.map((job) => this.#done.get(job)));
    if (options.forget) await this.#o.journal?.clear().catch((err: unknown) => this.#log.warn({ err }, 'could not remove the journal of a deleted JobSink'));
    this.#o.onChange();
  }

  #done = new WeakMap<Job, Promise<void>>();

  #graceMs(job: Job): number {
    return (job.spec.job.spec.template.spec.terminationGracePeriodSeconds ?? 10) * 1000;
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#limits.maxConcurrent && this.#queue.length) {
      const job = this.#queue.shift()!;
      this.#running.add(job);
      const run = this.#run(job)
        .catch((err: unknown) => {
          this.#log.error({ err, job: job.record.id }, 'job run failed');
          if (job.record.state === 'running') this.#finish(job, 'failed', { reason: 'StartFailed', message: (err as Error).message });
        })
        .finally(() => {
          this.#running.delete(job);
          this.#pump();
          this.#o.onChange();
        });
      this.#done.set(job, run);
    }
  }

  async #run(job: Job): Promise<void> {
    const r = job.record;
    const jobSpec = job.spec.job.spec;
    const podSpec = jobSpec.template.spec;
    const backoffLimit = jobSpec.backoffLimit ?? DEFAULT_BACKOFF_LIMIT;
    const jobDeadline = jobSpec.activeDeadlineSeconds !== undefined ? Date.now() + jobSpec.activeDeadlineSeconds * 1000 : Infinity;
    r.state = 'running';
    r.startedAt = new Date().toISOString();
    const started = Date.now();
    this.#o.onChange();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-jobsink-'));
    try {
      const file = join(dir, 'event');
      // Structured-mode JSON, as Knative mounts it; readable by a container's non-root user.
      await writeFile(file, toStructuredJson(job.event), { mode: 0o644 });
      for (let attempt = 0; ; attempt++) {
        if (this.#closed) return this.#finish(job, 'cancelled', { reason: 'Stopped', message: 'stopped by delete or shutdown' }, started);
        r.attempts = attempt + 1;
        let lastStderr: string | undefined;
        let outcome: { ok: boolean; reason: string; message?: string | undefined; exitCode?: number | undefined; signal?: string | undefined };
        try {
          const proc = await launchAttempt(
            {
              namespace: this.namespace,
              name: this.name,
              label: `JobSink ${this.namespace}/${this.name} job ${r.id}`,
              container: podSpec.containers[0]!,
              runner: job.runner,
              eventDir: dir,
              eventFile: file,
              attemptName: `sluice-job-${this.namespace}-${this.name}-${this.#tag}-${r.id}-${attempt}`.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 200),
              stopGraceSeconds: podSpec.terminationGracePeriodSeconds ?? 10,
              logger: this.#log,
              envLookup: this.#o.envLookup,
              containers: this.#o.containers,
              baseDir: this.#o.baseDir,
              onStderr: (line) => {
                if (line.trim()) lastStderr = line;
              },
              ...(this.#o.spawn ? { spawn: this.#o.spawn } : {}),
            },
            (rt, image, policy) => this.#ensureImage(rt, image, policy),
          );
          job.proc = proc;
          if (this.#closed) await proc.stop(this.#graceMs(job));
          const podDeadline = podSpec.activeDeadlineSeconds !== undefined ? Date.now() + podSpec.activeDeadlineSeconds * 1000 : Infinity;
          const deadline = Math.min(podDeadline, jobDeadline);
          let timedOut = false;
          const timer = Number.isFinite(deadline)
            ? setTimeout(() => {
                timedOut = true;
                void proc.stop(this.#graceMs(job));
              }, Math.max(0, deadline - Date.now()))
            : undefined;
          const exit = await proc.exited.finally(() => clearTimeout(timer));
          job.proc = undefined;
          if (timedOut) outcome = { ok: false, reason: 'DeadlineExceeded', message: 'the job ran longer than activeDeadlineSeconds', signal: exit.signal ?? undefined };
          else if (exit.error) outcome = { ok: false, reason: 'StartFailed', message: exit.error };
          else outcome = { ok: exit.code === 0, reason: exit.code === 0 ? 'Completed' : 'Error', message: lastStderr, exitCode: exit.code ?? undefined, signal: exit.signal ?? undefined };
        } catch (err) {
          outcome = { ok: false, reason: 'StartFailed', message: (err as Error).message };
        }
        r.exitCode = outcome.exitCode;
        r.signal = outcome.signal;
        if (r.exitCode === undefined) delete r.exitCode;
        if (r.signal === undefined) delete r.signal;
        if (outcome.ok) return this.#finish(job, 'succeeded', { reason: 'Completed', message: lastStderr }, started);
        if (this.#closed) return this.#finish(job, 'cancelled', { reason: 'Stopped', message: 'stopped by delete or shutdown' }, started);
        const deadlinePassed = outcome.reason === 'DeadlineExceeded' || Date.now() >= jobDeadline;
        if (attempt >= backoffLimit || deadlinePassed) {
          const reason = deadlinePassed ? 'DeadlineExceeded' : backoffLimit > 0 ? 'BackoffLimitExceeded' : outcome.reason;
          const message = [outcome.reason === 'Error' ? `exit code ${outcome.exitCode ?? '?'}${outcome.signal ? ` (${outcome.signal})` : ''}` : undefined, outcome.message].filter(Boolean).join(': ');
          return this.#finish(job, 'failed', { reason, message: message || undefined }, started);
        }
        r.reason = outcome.reason;
        if (outcome.message) r.message = outcome.message;
        this.#log.info({ job: r.id, attempt: attempt + 1, exitCode: outcome.exitCode, reason: outcome.reason }, 'job attempt failed; retrying');
        this.#o.onChange();
        const delay = Math.min(BACKOFF_CAP_MS, job.limits.backoffSeconds * 1000 * 2 ** attempt);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          job.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        job.wake = undefined;
      }
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  #finish(job: Job, state: JobState, what: { reason: string; message?: string | undefined }, started?: number): void {
    const r = job.record;
    // Counted as done at once, so the counts never show a job both running and finished.
    this.#running.delete(job);
    if (job.bytes) {
      this.#o.budget?.release(job.bytes);
      job.bytes = 0;
    }
    r.state = state;
    r.reason = what.reason;
    if (what.message) r.message = what.message;
    else delete r.message;
    r.finishedAt = new Date().toISOString();
    if (started !== undefined) r.durationMs = Date.now() - started;
    if (state === 'succeeded') this.#succeeded++;
    if (state === 'failed') this.#failed++;
    // Over for good: its event need not run again. A cancelled job's stays, to run after a restart.
    if (job.entry && state !== 'cancelled') {
      const entry = job.entry;
      job.entry = undefined;
      this.#o.journal?.remove(entry).catch((err: unknown) => this.#log.warn({ err, job: r.id }, 'could not remove a finished job from the journal; it may run again after a restart'));
    }
    this.#log[state === 'succeeded' ? 'info' : 'warn']({ job: r.id, state, exitCode: r.exitCode, attempts: r.attempts, durationMs: r.durationMs, reason: r.reason }, `job ${state}`);
    this.#prune();
    this.#o.onChange();
  }

  /** Keeps every active job and the newest finished ones. */
  #prune(): void {
    const max = this.#o.history ?? 100;
    let finished = this.#history.filter((j) => j.state !== 'queued' && j.state !== 'running').length;
    if (finished <= max) return;
    this.#history = this.#history.filter((j) => {
      if (finished > max && j.state !== 'queued' && j.state !== 'running') {
        finished--;
        return false;
      }
      return true;
    });
  }

  #ensureImage(runtime: ContainerRuntime, image: string, policy: PullPolicy): Promise<void> {
    const key = `${runtime.cli} ${image} ${policy}`;
    let p = this.#images.get(key);
    if (!p) {
      p = runtime.ensureImage(image, policy);
      this.#images.set(key, p);
      // A failed pull is tried again by the next job.
      p.catch(() => this.#images.delete(key));
    }
    return p;
  }
}

/** Source and id: what names an event, as Knative names the Job after it. */
function eventKey(e: SluiceEvent): string {
  return `${e.attributes.source ?? ''}\n${e.attributes.id ?? ''}`;
}
