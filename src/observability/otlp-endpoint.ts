import { InvalidOptionError } from '../errors.js';

/** The environment variables of the OpenTelemetry SDK specification that Sluice honours. */
export interface OtlpEnv {
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
  readonly OTEL_SDK_DISABLED?: string | undefined;
  readonly OTEL_TRACES_EXPORTER?: string | undefined;
}

const TRACES_PATH = 'v1/traces';

/**
 * The URL spans are POSTed to, or undefined when tracing is off. `--otlp-endpoint` wins;
 * otherwise the standard variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL,
 * OTEL_EXPORTER_OTLP_ENDPOINT a base URL that gets `/v1/traces` appended (as the OTel
 * SDKs do). OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn the variables off,
 * never an explicit flag. Throws InvalidOptionError naming the flag or variable.
 */
export function resolveOtlpTracesUrl(flag: string | undefined, env: OtlpEnv = process.env): string | undefined {
  if (flag !== undefined && flag.trim() !== '') return baseToTracesUrl(checkUrl(flag.trim(), '--otlp-endpoint'));
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return checkUrl(traces, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT').toString();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return baseToTracesUrl(checkUrl(base, 'OTEL_EXPORTER_OTLP_ENDPOINT'));
  return undefined;
}

/** A collector base URL (`http://collector:4318`) gets `/v1/traces`; one that already names it is kept. */
function baseToTracesUrl(u: URL): string {
  const path = u.pathname.replace(/\/+$/, '');
  if (path.endsWith('/' + TRACES_PATH)) return u.toString();
  u.pathname = `${path}/${TRACES_PATH}`;
  return u.toString();
}

function checkUrl(text: string, what: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    // reported below
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new InvalidOptionError(
      `${what}: ${JSON.stringify(text)} is not an http(s) URL of an OTLP/HTTP collector (e.g. http://otel-collector:4318)`,
    );
  }
  return u;
}
