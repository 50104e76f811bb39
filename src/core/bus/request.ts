import { randomUUID } from 'node:crypto';
import { AppError, appErrorForStatus, describeError } from '../errors';
import type { Bus } from './types';

// Request/reply over the Bus, for the few calls that must reach the one node holding a resource
// (the node whose Chromium runs a room's browser). Errors travel as the contract's error body and
// are raised again on the caller's side; a node that does not answer in time is a 503.

type Request = { reply_to: string; body: unknown };
type Reply = { ok: true; value: unknown } | { ok: false; status: number; error: string; extra?: object };

export async function busRequest(
  bus: Bus,
  topic: string,
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const replyTo = `reply.${randomUUID()}`;
  let settle!: (reply: Reply) => void;
  const replied = new Promise<Reply>((resolve) => {
    settle = resolve;
  });
  const unsubscribe = await bus.subscribe(replyTo, (message) => settle(message as Reply));
  let timer: NodeJS.Timeout | undefined;
  try {
    await bus.publish(topic, { reply_to: replyTo, body } satisfies Request);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError('SERVICE_UNAVAILABLE', 'The node holding this resource did not answer')),
        timeoutMs,
      );
    });
    const reply = await Promise.race([replied, timeout]);
    if (reply.ok) return reply.value;
    const err = appErrorForStatus(reply.status);
    throw new AppError(err.appCode, reply.error, { ...reply.extra });
  } finally {
    clearTimeout(timer);
    await unsubscribe().catch(() => {});
  }
}

/** Answers requests published on `topic`; the handler's AppErrors go back as error replies. */
export function serveBusRequests(bus: Bus, topic: string, handler: (body: unknown) => Promise<unknown>) {
  return bus.subscribe(topic, (raw) => {
    const request = raw as Request;
    if (typeof request?.reply_to !== 'string') return;
    void (async () => {
      let reply: Reply;
      try {
        reply = { ok: true, value: await handler(request.body) };
      } catch (err) {
        const { body } = describeError(err);
        const { error, status, ...extra } = body;
        reply = { ok: false, status, error, extra };
      }
      await bus.publish(request.reply_to, reply).catch(() => {});
    })();
  });
}
