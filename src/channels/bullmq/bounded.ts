/**
 * Waits for `op` at most `ms`, never rejects. For shutdown steps only: BullMQ and ioredis
 * wait for Redis to come back before they finish a close, and a broker stopped while
 * Redis is down (or flapping) must still exit. What a step leaves unfinished is safe in
 * Redis: an unreleased job lock expires and the job is handed out again.
 */
export async function bounded(op: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    op.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** How long one shutdown step may wait for Redis. */
export const CLOSE_STEP_MS = 2000;
