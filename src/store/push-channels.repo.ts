import { timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../security/secret-hash.ts';
import type { Db } from './database.ts';

/** What a notification's channel says about it: whom it is for, and whether to act on it. */
export type ChannelVerdict =
  | { ok: false }
  | { ok: true; connectionState: string; stopped: boolean };

/** The channels providers notify through (Google watch channels, Graph subscriptions, Okta event hooks). */
export class PushChannelsRepo {
  constructor(private readonly db: Db) {}

  /**
   * Checks that `channelId` is a channel of `connectionId` and that the notification carries its token
   * (compared in constant time). An unknown channel and a wrong token answer alike: probing learns nothing.
   */
  async authenticate(connectionId: string, channelId: string, token: string | undefined): Promise<ChannelVerdict> {
    const channel = await this.db
      .selectFrom('push_channels as p')
      .innerJoin('connections as c', 'c.id', 'p.connection_id')
      .select(['p.token_hash', 'p.stopped_at', 'c.state'])
      .where('p.id', '=', channelId)
      .where('p.connection_id', '=', connectionId)
      .where('c.deleted_at', 'is', null)
      .executeTakeFirst();
    const presented = Buffer.from(sha256Hex(token ?? ''), 'hex');
    const expected = Buffer.from(channel?.token_hash ?? sha256Hex(`unknown:${channelId}`), 'hex');
    if (!channel || !timingSafeEqual(presented, expected)) return { ok: false };
    return { ok: true, connectionState: channel.state, stopped: channel.stopped_at !== null };
  }
}
