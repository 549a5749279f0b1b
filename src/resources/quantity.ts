// Kubernetes resource quantities (`resources.limits`): memory as bytes (`128Mi`, `1G`,
// `1.5Gi`, `512e6`) and CPU as cores (`500m`, `0.25`, `2`). Both return undefined for a
// string that is not a quantity, so callers report the field.

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^([+]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity's value in base units (bytes, cores), or undefined. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = QUANTITY.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1] + (m[2] ?? '')) * SUFFIX[m[3] ?? '']!;
  return Number.isFinite(n) ? n : undefined;
}

/** Memory in whole bytes (rounded up, as Kubernetes does), or undefined. */
export function parseMemoryBytes(value: string | number): number | undefined {
  const n = parseQuantity(value);
  return n === undefined ? undefined : Math.ceil(n);
}

/** CPU in cores (millicore precision), or undefined. */
export function parseCpuCores(value: string | number): number | undefined {
  const n = parseQuantity(value);
  return n === undefined ? undefined : Math.ceil(n * 1000) / 1000;
}
