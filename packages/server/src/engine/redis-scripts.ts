/**
 * The Lua scripts of the Redis engine. Each runs atomically inside Redis, which is what makes the
 * per-channel order global: the offset is assigned, the event stored and the message published in
 * one step, so every node sees one order per channel, the order of the offsets.
 *
 * Keys of one channel (all share the hash tag `{channel}`, so they live in one Redis Cluster slot):
 *   <prefix>{<channel>}:meta     hash: epoch, offset (last assigned), time (ms of the last event),
 *                                size and ttl (the stream options of the last publish)
 *   <prefix>{<channel>}:stream   stream: one entry per retained event, id `<offset>-0`,
 *                                fields t (type), d (data as JSON), ms (time), and s (the
 *                                sender as JSON) for an event that has one
 *   <prefix>{<channel>}:idem:<h> string "<epoch> <offset> <time>": the event published with the
 *                                idempotency key whose SHA-256 is h; expires after the key's TTL
 * A missing meta means the channel's position was lost (expired, evicted, flushed): the next
 * script that needs it creates a new epoch at offset 0 and drops any stream left behind.
 *
 * Time comes from Redis (TIME), never from a node's clock, and never goes backwards within a
 * stream, so TTL trimming from the head of the stream is exact.
 */

import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

// Shared by both scripts: the meta, created with a new epoch when missing; and TTL trimming.
const PRELUDE = `
local meta, stream = KEYS[1], KEYS[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function ensure_meta(candidate_epoch)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch, false end
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', candidate_epoch, 'offset', 0, 'time', 0)
  return candidate_epoch, true
end

-- Drops expired entries from the head of the stream; each entry is looked at once while expired,
-- so the cost is amortised O(1) per event.
local function trim_expired(cutoff)
  while true do
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 32)
    if #head == 0 then return end
    local last_expired = nil
    for _, entry in ipairs(head) do
      local fields = entry[2]
      local ms = nil
      for i = 1, #fields, 2 do
        if fields[i] == 'ms' then ms = tonumber(fields[i + 1]) end
      end
      if ms ~= nil and ms > cutoff then break end
      last_expired = entry[1]
    end
    if last_expired == nil then return end
    local expired_offset = tonumber(string.match(last_expired, '^(%d+)'))
    redis.call('XTRIM', stream, 'MINID', (expired_offset + 1) .. '-0')
    if last_expired ~= head[#head][1] then return end
  end
end
`;

/**
 * KEYS: meta, stream, optionally the namespace's index of recent channels, and optionally the
 * idempotency record. ARGV: type, data (JSON), historySize, historyTtlMs, metaTtlMs, candidate
 * epoch, pub/sub channel, publish command (SPUBLISH or PUBLISH), idempotency record TTL in ms,
 * sender (JSON, or '' for none), traceparent ('' for none; sent with the live message and kept in
 * the stream entry as field 'tp'), tags (JSON, or '' for none; kept as field 'tg'), the channel
 * when KEYS[3] is the index ('' when it is not).
 * Returns {epoch, offset, time, replayed (0/1)}. With a record key that already exists nothing is
 * stored and the recorded {epoch, offset, time} come back with replayed 1; else the record is
 * written with the event, in the same atomic step.
 *
 * The index (`<prefix>{<namespace>}:recent`, a sorted set of channels scored by the time of their
 * last event) is kept only where pattern subscriptions are on, and only for events history keeps:
 * entries older than the history TTL are trimmed on every publish, so it holds the channels
 * published within that time, and the key expires with its newest entry.
 */
const PUBLISH = `${PRELUDE}
local indexed = ARGV[13] ~= ''
local recent = indexed and KEYS[3] or nil
local idem = KEYS[indexed and 4 or 3]
if idem then
  local recorded = redis.call('GET', idem)
  if recorded then
    local r_epoch, r_offset, r_time = string.match(recorded, '^(%S+) (%d+) (%d+)$')
    return {r_epoch, tonumber(r_offset), tonumber(r_time), 1}
  end
end
local event_type, data = ARGV[1], ARGV[2]
local size, ttl, meta_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local epoch = ensure_meta(ARGV[6])
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local last_time = tonumber(redis.call('HGET', meta, 'time')) or 0
if now < last_time then now = last_time end
redis.call('HSET', meta, 'time', now, 'size', size, 'ttl', ttl)
local sender, trace, tags = ARGV[10], ARGV[11], ARGV[12]
if size > 0 then
  if sender == '' and trace == '' and tags == '' then
    redis.call('XADD', stream, 'MAXLEN', size, offset .. '-0', 't', event_type, 'd', data, 'ms', now)
  else
    local extra = {}
    if sender ~= '' then extra[#extra + 1] = 's'; extra[#extra + 1] = sender end
    if trace ~= '' then extra[#extra + 1] = 'tp'; extra[#extra + 1] = trace end
    if tags ~= '' then extra[#extra + 1] = 'tg'; extra[#extra + 1] = tags end
    redis.call('XADD', stream, 'MAXLEN', size, offset .. '-0', 't', event_type, 'd', data, 'ms', now, unpack(extra))
  end
  trim_expired(now - ttl)
  -- Every retained event expires with the newest one at the latest, so the key may too.
  redis.call('PEXPIRE', stream, ttl)
  if recent and ttl > 0 then
    redis.call('ZADD', recent, now, ARGV[13])
    redis.call('ZREMRANGEBYSCORE', recent, '-inf', '(' .. (now - ttl))
    redis.call('PEXPIRE', recent, ttl)
  end
else
  redis.call('DEL', stream)
end
redis.call('PEXPIRE', meta, math.max(ttl, meta_ttl))
local message = '{"epoch":' .. cjson.encode(epoch) .. ',"offset":' .. offset .. ',"time":' .. now ..
  ',"type":' .. cjson.encode(event_type) .. ',"data":' .. data
if sender ~= '' then message = message .. ',"sender":' .. sender end
if trace ~= '' then message = message .. ',"trace":' .. cjson.encode(trace) end
if tags ~= '' then message = message .. ',"tags":' .. tags end
message = message .. '}'
redis.call(ARGV[8], ARGV[7], message)
if idem then redis.call('SET', idem, epoch .. ' ' .. offset .. ' ' .. now, 'PX', tonumber(ARGV[9])) end
return {epoch, offset, now, 0}
`;

/**
 * KEYS: meta, stream. ARGV: since ('' for none), limit ('' for none), historySize ('' to use the
 * stored one), historyTtlMs (same), metaTtlMs, candidate epoch.
 * Returns {epoch, offset, complete (0/1), flat events: offset, type, data, time, sender ('' for
 * none), traceparent ('' for none), tags (JSON, '' for none), offset, ...}.
 * The position is read in the same atomic step as the events, so it is never older than them.
 */
const HISTORY = `${PRELUDE}
local since = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local epoch, created = ensure_meta(ARGV[6])
local offset = tonumber(redis.call('HGET', meta, 'offset'))
local size = tonumber(ARGV[3]) or tonumber(redis.call('HGET', meta, 'size'))
local ttl = tonumber(ARGV[4]) or tonumber(redis.call('HGET', meta, 'ttl'))
redis.call('PEXPIRE', meta, math.max(ttl or 0, tonumber(ARGV[5])))
if created then
  return {epoch, 0, (since == nil or since == 0) and 1 or 0, {}}
end
if size ~= nil then redis.call('XTRIM', stream, 'MAXLEN', size) end
if ttl ~= nil then trim_expired(now - ttl) end
local entries
if limit ~= nil and limit <= 0 then
  entries = {}
elseif since ~= nil then
  if limit ~= nil then
    entries = redis.call('XRANGE', stream, (since + 1) .. '-0', '+', 'COUNT', limit)
  else
    entries = redis.call('XRANGE', stream, (since + 1) .. '-0', '+')
  end
elseif limit ~= nil then
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', limit)
  entries = {}
  for i = #newest, 1, -1 do entries[#entries + 1] = newest[i] end
else
  entries = redis.call('XRANGE', stream, '-', '+')
end
local complete = 1
if since ~= nil then
  local oldest = offset + 1
  local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #head > 0 then oldest = tonumber(string.match(head[1][1], '^(%d+)')) end
  if since < oldest - 1 then complete = 0 end
end
local flat = {}
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local t, d, ms, sender, trace, tags
  for i = 1, #fields, 2 do
    if fields[i] == 't' then t = fields[i + 1]
    elseif fields[i] == 'd' then d = fields[i + 1]
    elseif fields[i] == 'ms' then ms = fields[i + 1]
    elseif fields[i] == 's' then sender = fields[i + 1]
    elseif fields[i] == 'tp' then trace = fields[i + 1]
    elseif fields[i] == 'tg' then tags = fields[i + 1] end
  end
  flat[#flat + 1] = string.match(entry[1], '^(%d+)')
  flat[#flat + 1] = t
  flat[#flat + 1] = d
  flat[#flat + 1] = ms
  flat[#flat + 1] = sender or ''
  flat[#flat + 1] = trace or ''
  flat[#flat + 1] = tags or ''
end
return {epoch, offset, complete, flat}
`;

// Shared by the presence scripts: Redis time, and the entries whose node stopped refreshing them dropped.
const PRESENCE_PRELUDE = `
local entries, expiry = KEYS[1], KEYS[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function drop_expired()
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
  if #gone > 0 then
    redis.call('HDEL', entries, unpack(gone))
    redis.call('ZREMRANGEBYSCORE', expiry, '-inf', now)
  end
end
local function add(ttl, first)
  for i = first, #ARGV, 2 do
    redis.call('HSET', entries, ARGV[i], ARGV[i + 1])
    redis.call('ZADD', expiry, now + ttl, ARGV[i])
  end
  redis.call('PEXPIRE', entries, ttl)
  redis.call('PEXPIRE', expiry, ttl)
end
`;

/**
 * KEYS: presence hash (connectionId -> entry JSON), presence expiry zset (connectionId -> ms).
 * ARGV: none. Drops the entries whose node stopped refreshing them, returns the rest.
 */
const PRESENCE = `${PRESENCE_PRELUDE}
drop_expired()
return redis.call('HVALS', entries)
`;

/**
 * KEYS: presence hash, presence expiry zset. ARGV: ttlMs, then connectionId, entry JSON pairs.
 * Adds or refreshes entries; their expiry is Redis time + ttl.
 */
const PRESENCE_ADD = `${PRESENCE_PRELUDE}
add(tonumber(ARGV[1]), 2)
return 1
`;

/** KEYS: presence hash, presence expiry zset. ARGV: ttlMs, connectionId, entry JSON. Adds, then returns every entry. */
const PRESENCE_JOIN = `${PRESENCE_PRELUDE}
add(tonumber(ARGV[1]), 2)
drop_expired()
return redis.call('HVALS', entries)
`;

/** KEYS: presence hash, presence expiry zset. ARGV: connectionId. Removes it, then returns the entries left. */
const PRESENCE_LEAVE = `${PRESENCE_PRELUDE}
redis.call('HDEL', entries, ARGV[1])
redis.call('ZREM', expiry, ARGV[1])
drop_expired()
return redis.call('HVALS', entries)
`;

// Users online (the contract's point 8). Keys, all under the hash tag {#users} (one slot):
//   KEYS[1] hash connectionId -> "<graceMs> <user>"    KEYS[2] zset connectionId -> expiry (ms)
//   KEYS[3] hash user -> connections counted            KEYS[4] set of the users online
//   KEYS[5] zset user -> offline deadline (ms)
// A user is in KEYS[4] from the connection that found them offline until the claim that hands
// them out; both are single scripts, so each transition is seen by exactly one caller.
const USERS_PRELUDE = `
local conns, expiry, counts, online, deadlines = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Counts a connection; returns 1 when its user was offline until now.
local function connect(conn, user, grace, ttl)
  if redis.call('HEXISTS', conns, conn) == 1 then
    redis.call('ZADD', expiry, now + ttl, conn)
    return 0
  end
  redis.call('HSET', conns, conn, grace .. ' ' .. user)
  redis.call('ZADD', expiry, now + ttl, conn)
  redis.call('HINCRBY', counts, user, 1)
  redis.call('ZREM', deadlines, user)
  return redis.call('SADD', online, user)
end
-- Takes a connection back as of \`at\`; its user's deadline is set when it was their last.
local function take_back(conn, at)
  local value = redis.call('HGET', conns, conn)
  redis.call('ZREM', expiry, conn)
  if not value then return end
  redis.call('HDEL', conns, conn)
  local grace, user = string.match(value, '^(%d+) (.*)$')
  if redis.call('HINCRBY', counts, user, -1) <= 0 then
    redis.call('HDEL', counts, user)
    redis.call('ZADD', deadlines, at + tonumber(grace), user)
  end
end
`;

/** KEYS: the five user keys. ARGV: ttlMs, user, connectionId, graceMs. 1 when the user was offline. */
const USER_CONNECT = `${USERS_PRELUDE}
return connect(ARGV[3], ARGV[2], ARGV[4], tonumber(ARGV[1]))
`;

/** KEYS: the five user keys. ARGV: connectionId. */
const USER_DISCONNECT = `${USERS_PRELUDE}
take_back(ARGV[1], now)
return 1
`;

/**
 * KEYS: the five user keys. ARGV: ttlMs, then connectionId, user, graceMs triples. Refreshes a node's
 * connections; one that expired meanwhile is counted again. Returns the users that were offline.
 */
const USER_REFRESH = `${USERS_PRELUDE}
local back = {}
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  if connect(ARGV[i], ARGV[i + 1], ARGV[i + 2], ttl) == 1 then back[#back + 1] = ARGV[i + 1] end
end
return back
`;

/**
 * KEYS: the five user keys. ARGV: limit. Takes back the connections whose node stopped refreshing
 * them (as of their expiry), then claims the users whose deadline passed with no connection back.
 */
const CLAIM_OFFLINE = `${USERS_PRELUDE}
local limit = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #expired, 2 do take_back(expired[i], tonumber(expired[i + 1])) end
local claimed = {}
local due = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now, 'LIMIT', 0, limit)
for _, user in ipairs(due) do
  redis.call('ZREM', deadlines, user)
  if redis.call('HEXISTS', counts, user) == 0 and redis.call('SREM', online, user) == 1 then claimed[#claimed + 1] = user end
end
return claimed
`;

/**
 * KEYS: the channel's receipts hash (reader -> "<epoch> <offset> <time>"). ARGV: reader, epoch,
 * offset, ttlMs. Keeps the higher offset of one epoch (another epoch replaces it), with Redis time;
 * the hash lives ttlMs after the last acknowledgement.
 */
const ACKNOWLEDGE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local offset = tonumber(ARGV[3])
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then
  local epoch, kept = string.match(previous, '^(%S+) (%d+)')
  if epoch == ARGV[2] and tonumber(kept) >= offset then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. offset .. ' ' .. now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

// Due queues (the contract's point 10). KEYS[1]: zset id -> due (ms); KEYS[2]: hash id -> payload.

/** ARGV: id, dueAt, payload. Stores the item unless its id is stored already. */
const SCHEDULE = `
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 1 then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
return 1
`;

/** ARGV: limit, leaseMs. Returns id, payload pairs of the items due by Redis time, each made due again after the lease. */
const CLAIM_DUE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local claimed = {}
for _, id in ipairs(due) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = payload
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return claimed
`;

/** A script run by its SHA1, sent in full only when Redis does not know it yet (NOSCRIPT). */
export class Script {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: Redis | Cluster, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

export const scripts = {
  publish: new Script(PUBLISH),
  history: new Script(HISTORY),
  presence: new Script(PRESENCE),
  presenceAdd: new Script(PRESENCE_ADD),
  presenceJoin: new Script(PRESENCE_JOIN),
  presenceLeave: new Script(PRESENCE_LEAVE),
  userConnect: new Script(USER_CONNECT),
  userDisconnect: new Script(USER_DISCONNECT),
  userRefresh: new Script(USER_REFRESH),
  claimOffline: new Script(CLAIM_OFFLINE),
  acknowledge: new Script(ACKNOWLEDGE),
  schedule: new Script(SCHEDULE),
  claimDue: new Script(CLAIM_DUE),
};
