import type { ResourceIssue } from '../errors.js';
import { parseShortDuration } from '../subscriptions/duration.js';

/** The autoscaling annotations of a Service template, parsed (Knative's defaults filled in). */
export interface AutoscaleConfig {
  /** Replicas kept even when idle (`min-scale`, default 0). */
  minScale: number;
  /** Upper bound (`max-scale`); 0 = no limit. */
  maxScale: number;
  /** Replicas started when the service is first created (`initial-scale`, Knative's default 1). */
  initialScale: number;
  /** Concurrent requests one replica should take before another is added (`target`, default 100). */
  target: number;
  /** How long demand must stay low before scaling down (`window`, default 60 s). */
  windowMs: number;
  /** Extra wait before any scale-down once it is decided (`scale-down-delay`, default 0). */
  scaleDownDelayMs: number;
  /** The last replica stays at least this long after the last request (`scale-to-zero-pod-retention-period`, default 0). */
  retentionMs: number;
  /** Sluice's own `activator.sluice.dev/queue-size`: held deliveries per service (default: the activator's). */
  queueSize?: number;
  /** Sluice's own `activator.sluice.dev/timeout`: how long a delivery is held (default: the activator's). */
  queueTimeoutMs?: number;
}

export const AUTOSCALING_DEFAULTS: AutoscaleConfig = {
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  target: 100,
  windowMs: 60_000,
  scaleDownDelayMs: 0,
  retentionMs: 0,
};

const KN = 'autoscaling.knative.dev/';
const SLUICE = 'activator.sluice.dev/';

// Old camelCase spellings Knative still accepts.
const ALIASES: Record<string, string> = { minScale: 'min-scale', maxScale: 'max-scale', initialScale: 'initial-scale' };
// Accepted because their only supported value is what Sluice does anyway.
const FIXED: Record<string, string> = { class: 'kpa.autoscaling.knative.dev', metric: 'concurrency' };

/**
 * Parses `autoscaling.knative.dev/*` (and `activator.sluice.dev/*`) annotations. Returns
 * every problem with its annotation path instead of throwing, so the caller can report
 * them together with the rest of the resource.
 */
export function parseAutoscaling(annotations: Record<string, string>, at = 'metadata.annotations'): { config: AutoscaleConfig; issues: ResourceIssue[] } {
  const config: AutoscaleConfig = { ...AUTOSCALING_DEFAULTS };
  const issues: ResourceIssue[] = [];
  for (const [key, raw] of Object.entries(annotations)) {
    const path = `${at}.${key}`;
    const bad = (message: string) => issues.push({ path, message: `${JSON.stringify(raw)}: ${message}` });
    if (key.startsWith(KN)) {
      const name0 = key.slice(KN.length);
      const name = ALIASES[name0] ?? name0;
      switch (name) {
        case 'min-scale':
        case 'max-scale':
        case 'initial-scale': {
          const n = integer(raw);
          if (n === undefined) bad('must be a whole number >= 0');
          else if (name === 'min-scale') config.minScale = n;
          else if (name === 'max-scale') config.maxScale = n;
          else config.initialScale = n;
          break;
        }
        case 'target': {
          const n = Number(raw);
          if (!Number.isFinite(n) || n <= 0 || raw.trim() === '') bad('must be a number > 0 (concurrent requests per replica)');
          else config.target = n;
          break;
        }
        case 'window':
        case 'scale-down-delay':
        case 'scale-to-zero-pod-retention-period': {
          let ms: number | undefined;
          try {
            ms = parseShortDuration(raw);
          } catch {
            bad('must be a duration such as 60s, 1m30s or 500ms');
          }
          if (ms === undefined) break;
          if (name === 'window') {
            if (ms <= 0 || ms > 3_600_000) bad('must be more than 0 and at most 1h');
            else config.windowMs = ms;
          } else if (name === 'scale-down-delay') {
            if (ms > 3_600_000) bad('must be at most 1h');
            else config.scaleDownDelayMs = ms;
          } else config.retentionMs = ms;
          break;
        }
        default: {
          const fixed = FIXED[name];
          if (fixed === undefined) issues.push({ path, message: `annotation not supported by Sluice (supported: min-scale, max-scale, initial-scale, target, window, scale-down-delay, scale-to-zero-pod-retention-period)` });
          else if (raw !== fixed) bad(`only ${fixed} is supported`);
        }
      }
    } else if (key.startsWith(SLUICE)) {
      const name = key.slice(SLUICE.length);
      if (name === 'queue-size') {
        const n = integer(raw);
        if (n === undefined || n < 1) bad('must be a whole number >= 1');
        else config.queueSize = n;
      } else if (name === 'timeout') {
        try {
          const ms = parseShortDuration(raw);
          if (ms <= 0) bad('must be more than 0');
          else config.queueTimeoutMs = ms;
        } catch {
          bad('must be a duration such as 300s or 5m');
        }
      } else {
        issues.push({ path, message: 'annotation not supported by Sluice (supported: queue-size, timeout)' });
      }
    }
  }
  if (config.maxScale > 0 && config.minScale > config.maxScale) {
    issues.push({ path: `${at}.${KN}min-scale`, message: `min-scale ${config.minScale} is above max-scale ${config.maxScale}` });
  }
  if (config.maxScale > 0 && config.initialScale > config.maxScale) {
    issues.push({ path: `${at}.${KN}initial-scale`, message: `initial-scale ${config.initialScale} is above max-scale ${config.maxScale}` });
  }
  return { config, issues };
}

function integer(raw: string): number | undefined {
  if (!/^\s*\d+\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}
