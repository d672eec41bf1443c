import {
  type HubKeys,
  OPERATOR_ACTION_STREAM_FIELDS,
  type OperatorAction,
  operatorActionSchema,
} from '@hub/protocol';
import type { Redis } from 'ioredis';
import { API_ERRORS, ApiError } from './api-error.js';

/** Approximate cap of the operator-actions stream (alerts consumes it long before). */
export const OPERATOR_ACTIONS_MAXLEN = 100_000;

/** Body + server time → an OperatorAction, validated by the protocol's schema. */
export function buildOperatorAction(body: Record<string, unknown>, now: number): OperatorAction {
  const r = operatorActionSchema.safeParse({ ...body, v: 1, ts: now });
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first !== undefined && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    throw new ApiError(400, API_ERRORS.BAD_BODY, where + (first?.message ?? 'invalid action'));
  }
  return r.data;
}

/**
 * XADD keys.operatorActions with fields u (the authenticated account, never from the
 * payload), j (the action JSON), r (receive time). alerts applies it and publishes the
 * ticket on the live channel.
 */
export async function enqueueOperatorAction(
  redis: Redis,
  keys: HubKeys,
  accountId: string,
  action: OperatorAction,
  now: number,
): Promise<string> {
  return (await redis.xadd(
    keys.operatorActions,
    'MAXLEN',
    '~',
    OPERATOR_ACTIONS_MAXLEN,
    '*',
    OPERATOR_ACTION_STREAM_FIELDS.accountId,
    accountId,
    OPERATOR_ACTION_STREAM_FIELDS.action,
    JSON.stringify(action),
    OPERATOR_ACTION_STREAM_FIELDS.receivedAt,
    String(now),
  )) as string;
}
