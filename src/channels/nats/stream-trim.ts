import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';

/** Most messages one trim pass deletes; the caller runs another pass at once when it hit this. */
export const TRIM_BATCH = 20_000;
/** Delete requests in flight at once: enough to keep up with ingress, few enough not to crowd it out. */
const TRIM_WINDOW = 64;
/** A pass gives up (and the next one resumes) when the server stops answering for this long. */
const TRIM_STALL_MS = 5000;
/** Sluice connects without a JetStream domain, so the API lives under the default prefix. */
const API_PREFIX = '$JS.API';

/**
 * Removes from a stream the events every consumer has acknowledged (at or below the
 * lowest ack floor; with no consumer, every event: nobody can ever get them), oldest
 * first, at most `TRIM_BATCH`. Resolves with how many it deleted.
 *
 * One delete per message, never a purge: on nats-server 2.9 (the Debian package) a purge,
 * with `seq` or `keep` alike, clears the pending acks of every consumer of the stream,
 * so an event in flight on another replica, or waiting for a retry after a nak with
 * delay, is never delivered again (reproduced by test/channels/durable-e2e-*.test.ts:
 * the events a killed replica held were lost). Deleting messages below the ack floor
 * leaves pending acks alone.
 *
 * That is one JetStream API call per event, so the deletes are pipelined on one inbox
 * subscription rather than sent through `jsm.streams.deleteMessage`, whose per-request
 * bookkeeping (an error object with a stack, a timer) cost as much client CPU as the
 * publish of the event itself.
 */
export async function trimAcknowledged(nc: NatsConnection, jsm: JetStreamManager, stream: string): Promise<number> {
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return 0;
  let floor = info.state.last_seq;
  for await (const c of jsm.consumers.list(stream)) floor = Math.min(floor, c.ack_floor.stream_seq);
  const first = info.state.first_seq;
  const last = Math.min(floor, first + TRIM_BATCH - 1);
  if (last < first) return 0;
  return deleteRange(nc, stream, first, last);
}

function deleteRange(nc: NatsConnection, stream: string, first: number, last: number): Promise<number> {
  const inbox = createInbox();
  const subject = `${API_PREFIX}.STREAM.MSG.DELETE.${stream}`;
  const encoder = new TextEncoder();
  return new Promise<number>((resolve) => {
    let next = first;
    let inFlight = 0;
    let deleted = 0;
    let lastAnswer = Date.now();
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err) return finish();
        inFlight--;
        lastAnswer = Date.now();
        // A sequence already gone (another replica trimmed it, or a gap) answers an error: not ours to care.
        if (msg.string().includes('"success":true')) deleted++;
        send();
      },
    });
    const watchdog = setInterval(() => {
      if (Date.now() - lastAnswer > TRIM_STALL_MS) finish();
    }, 1000);
    watchdog.unref();
    let done = false;
    function finish(): void {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      sub.unsubscribe();
      resolve(deleted);
    }
    function send(): void {
      if (done) return;
      try {
        while (inFlight < TRIM_WINDOW && next <= last) {
          const seq = next++;
          inFlight++;
          // `no_erase`: no secure erase (overwriting the data on disk is not needed, and slower).
          nc.publish(subject, encoder.encode(`{"seq":${seq},"no_erase":true}`), { reply: `${inbox}.${seq}` });
        }
      } catch {
        return finish(); // connection closed: the next pass resumes from the stream's first sequence
      }
      if (inFlight === 0) finish();
    }
    send();
  });
}
