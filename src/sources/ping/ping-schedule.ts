import { Cron } from 'croner';
import { InvalidOptionError } from '../../errors.js';
import { parseGoDuration } from '../../subscriptions/duration.js';

// A PingSource schedule: what Knative's cron parser (robfig/cron `ParseStandard`)
// accepts, computed with croner. Standard 5-field cron, descriptors (@hourly, @daily...),
// a `CRON_TZ=`/`TZ=` prefix, and `@every <duration>`; Sluice also takes a leading seconds
// field (6 fields) for sub-minute schedules, which Knative does not.

/** Throws InvalidOptionError unless `tz` is an IANA time zone name (or `UTC`/`Local`). */
export function checkTimezone(tz: string): void {
  if (tz === 'Local') return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new InvalidOptionError(`${JSON.stringify(tz)} is not an IANA time zone name (like "Europe/Paris" or "UTC")`);
  }
}

/** Splits a `CRON_TZ=Zone` / `TZ=Zone` prefix off a schedule, as robfig/cron reads it. */
export function splitTimezonePrefix(schedule: string): { timezone?: string; expression: string } {
  const m = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(schedule.trim());
  return m ? { timezone: m[1] as string, expression: (m[2] as string).trim() } : { expression: schedule.trim() };
}

/** When a schedule fires; `next(after)` is strictly after `after`. */
export class PingSchedule {
  readonly expression: string;
  /** The zone the schedule is read in; undefined = the system's. */
  readonly timezone: string | undefined;
  readonly #cron: Cron | undefined;
  readonly #everyMs: number | undefined;

  /** Throws InvalidOptionError with a message fit for `spec.schedule`/`spec.timezone`. */
  constructor(schedule: string, timezone?: string) {
    const split = splitTimezonePrefix(schedule);
    if (split.timezone !== undefined && timezone !== undefined && split.timezone !== timezone) {
      throw new InvalidOptionError(`the schedule's ${split.timezone} prefix and timezone ${JSON.stringify(timezone)} disagree: set the zone once`);
    }
    const tz = split.timezone ?? timezone;
    if (tz !== undefined) checkTimezone(tz);
    this.timezone = tz === 'Local' ? undefined : tz;
    this.expression = split.expression;
    if (this.expression === '') throw new InvalidOptionError('the schedule is empty');

    if (this.expression.startsWith('@every')) {
      const d = this.expression.slice('@every'.length).trim();
      const ms = parseGoDuration(d);
      if (ms === undefined || ms < 1000) throw new InvalidOptionError(`${JSON.stringify(this.expression)}: @every needs a duration of at least 1s, like "@every 1h30m"`);
      this.#everyMs = ms;
      return;
    }
    try {
      this.#cron = new Cron(this.expression, { paused: true, mode: '5-or-6-parts', ...(this.timezone ? { timezone: this.timezone } : {}) });
    } catch (err) {
      const why = (err as Error).message.replace(/^CronPattern:\s*/, '');
      throw new InvalidOptionError(`${JSON.stringify(this.expression)} is not a cron schedule (minute hour day-of-month month day-of-week, optionally with seconds first): ${why}`, { cause: err });
    }
    if (this.#cron.nextRun() === null) throw new InvalidOptionError(`${JSON.stringify(this.expression)} never fires`);
  }

  /** The first firing time strictly after `after`; null when there is none. */
  next(after: Date): Date | null {
    if (this.#everyMs !== undefined) return new Date(after.getTime() + this.#everyMs);
    return (this.#cron as Cron).nextRun(after);
  }
}
