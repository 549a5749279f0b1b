/**
 * Goals: each benchmark states its figures as a ratio against a baseline measured in the
 * same run, with the goal beside it. These machines are shared and noisy, so a goal is
 * missed only when the ratio falls short of it by more than the noise the run itself
 * measured: half the spread of the per-round ratios (rounds alternate the baseline and
 * the measured path, so both see the same noise). `npm run bench` exits non-zero when
 * any goal is missed beyond its margin.
 */
import { median } from './processes.js';

export interface Goal {
  /** What is compared, e.g. "channel delivered/s vs bare forwarder". */
  readonly name: string;
  /** The median of the per-round values. */
  readonly value: number;
  /** `>=`: value must reach goal (ratios of throughput); `<=`: stay under it (overheads, latency ratios). */
  readonly op: '>=' | '<=';
  readonly goal: number;
  /** The noise the run measured, in the value's own unit (0 when it ran one round). */
  readonly margin: number;
  /** Per-round values the median and margin come from. */
  readonly rounds: readonly number[];
  /** met: within the goal; noise: short of it but within the margin; missed: beyond the margin. */
  readonly verdict: 'met' | 'noise' | 'missed';
  readonly unit?: string | undefined;
}

/** Half the spread of the rounds: what one round may differ from another by machine noise alone. */
export function noiseMargin(rounds: readonly number[]): number {
  if (rounds.length < 2) return 0;
  return (Math.max(...rounds) - Math.min(...rounds)) / 2;
}

/** A goal judged from per-round values (each a ratio, or an overhead, against its same-round baseline). */
export function goal(name: string, rounds: readonly number[], op: '>=' | '<=', target: number, unit?: string): Goal {
  const finite = rounds.filter((r) => Number.isFinite(r));
  const value = finite.length ? median(finite) : NaN;
  const margin = noiseMargin(finite);
  const met = op === '>=' ? value >= target : value <= target;
  const withinNoise = op === '>=' ? value >= target - margin : value <= target + margin;
  const verdict = Number.isNaN(value) ? 'missed' : met ? 'met' : withinNoise ? 'noise' : 'missed';
  return { name, value, op, goal: target, margin, rounds: finite, verdict, unit };
}

function fmt(v: number, unit?: string): string {
  const s = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return unit ? `${s} ${unit}` : s;
}

/** One line per goal: value, goal, margin and verdict. */
export function formatGoal(g: Goal): string {
  const mark = g.verdict === 'met' ? 'ok  ' : g.verdict === 'noise' ? 'ok~ ' : 'MISS';
  return `${mark} ${g.name}: ${fmt(g.value, g.unit)} (goal ${g.op} ${fmt(g.goal, g.unit)}, noise ±${fmt(g.margin, g.unit)}, rounds ${g.rounds.map((r) => fmt(r)).join(' / ')})`;
}
