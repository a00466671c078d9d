/**
 * The token cache: the engine (`tokenEngine.ts`) with one slot per request key, made on first use, in
 * a bounded map.
 *
 * - Bound: at most `maxEntries` slots, evicted by CLOCK (second chance), an approximation of LRU in
 *   which a hit only sets a flag on its slot (no reordering of the map on the hit path); the eviction
 *   hand walks the map in insertion order, gives a referenced slot a second chance (flag cleared, moved
 *   to the end) and drops the first unreferenced one. A slot with a token request under way is never
 *   dropped (its waiters, and single flight, depend on it).
 * - Idle: a slot not asked for during `idleTimeToLive` is dropped, by a sweep that runs at most once
 *   per half of it, from a `get`.
 * - A dropped slot's token stays in the store (every new token is saved there): the next `get` of its
 *   key loads it back, refresh token included. Only with the cache's own memory store is the stored
 *   copy of a token without a refresh token dropped too (it can be fetched again; keeping it would
 *   unbound memory).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import type * as Scope from "effect/Scope"
import { SingleShotGen, YieldWrap } from "effect/Utils"
import * as Grant from "../Grant.js"
import type * as Token from "../Token.js"
import type { Options, Request, Service } from "../TokenCache.js"
import type * as TokenError from "../TokenError.js"
import type * as TokenService from "../TokenService.js"
import { isEmptyRequest, refusing, requestKey, subjectPart } from "./grant.js"
import * as Engine from "./tokenEngine.js"

/** How many request spellings are remembered for their keys before the memo is cleared. */
const aliasesPerEntry = 2

/**
 * A request as a string, cheaply, for the memo of keys: injective (each part length-prefixed), but not
 * normalised (two spellings of one scope set are two aliases of one key). `undefined` for a request
 * with a list or parameters: its key is computed each time.
 */
const aliasOf = (r: Request): string | undefined => {
  if (r.params !== undefined || (r.resource !== undefined && typeof r.resource !== "string")) return undefined
  const s = r.scope ?? ""
  const a = r.audience
  const res = r.resource as string | undefined
  const sub = r.subject
  return `${s.length}:${s}${a === undefined ? "-" : `${a.length}:${a}`}${
    res === undefined ? "-" : `${res.length}:${res}`
  }${sub === undefined ? "-" : `${sub.length}:${sub}`}`
}

/** @internal */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope | Grant.Grant> =>
  Effect.gen(function*() {
    const grant = yield* Grant.Grant
    const engine = yield* Engine.make(options)
    const clock = engine.clock
    const maxEntries = Math.max(1, Math.floor(options.maxEntries ?? 10_000))
    const idleMillis = Duration.toMillis(Duration.decode(options.idleTimeToLive ?? "1 hour"))
    const sweepEvery = Math.max(1, idleMillis / 2)
    const slots = new Map<string, Engine.Slot>()
    const aliases = new Map<string, string>()
    let nextSweepAt = clock.unsafeCurrentTimeMillis() + sweepEvery

    const keyOf = (request?: Request): string => requestKey(grant.key, request)

    const grantFor = (request: Request | undefined, key: string): Grant.Service => {
      if (request === undefined || isEmptyRequest(request)) return grant
      return grant.forRequest === undefined
        ? refusing(key, "this grant cannot ask for a token for a request (scope, audience, resource, subject)")
        : grant.forRequest(request)
    }

    /** Forgets a slot; with the cache's own memory store, a token that cannot be renewed from it too. */
    const drop = (slot: Engine.Slot): void => {
      slots.delete(slot.key)
      const entry = slot.state.entry
      if (engine.ownStore && entry !== undefined && entry.token.refreshToken === undefined) {
        Effect.runSync(engine.safe.visit(slot.key).remove)
      }
    }

    const sweep = (now: number): void => {
      nextSweepAt = now + sweepEvery
      for (const slot of slots.values()) {
        if (slot.state.flight === undefined && now - slot.usedAt >= idleMillis) drop(slot)
      }
    }

    /** CLOCK: the first slot not asked for since the hand last passed, and not fetching, is dropped. */
    const evictOne = (): void => {
      let budget = 2 * slots.size + 1
      for (const slot of slots.values()) {
        if (budget-- <= 0) return
        if (slot.state.flight !== undefined || slot.referenced) {
          slot.referenced = false
          slots.delete(slot.key)
          slots.set(slot.key, slot)
          continue
        }
        drop(slot)
        return
      }
    }

    const slotOf = (request: Request | undefined, now: number): Engine.Slot => {
      let key: string | undefined
      if (request === undefined) key = grant.key
      else {
        const alias = aliasOf(request)
        if (alias !== undefined) {
          key = aliases.get(alias)
          if (key === undefined) {
            if (aliases.size >= aliasesPerEntry * maxEntries) aliases.clear()
            key = keyOf(request)
            aliases.set(alias, key)
          }
        } else key = keyOf(request)
      }
      let slot = slots.get(key)
      if (slot === undefined) {
        if (slots.size >= maxEntries) evictOne()
        slot = Engine.makeSlot(key, grantFor(request, key), now)
        slots.set(key, slot)
      } else slot.referenced = true
      slot.usedAt = now
      return slot
    }

    const hit = (request: Request | undefined): Effect.Effect<Token.Token, TokenError.HttpError> => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now >= nextSweepAt) sweep(now)
      return engine.step(slotOf(request, now), now)
    }

    /** `get(request)`: lazy, and inside `Effect.gen` one step for a hit, as `TokenService.get` is. */
    class Get extends Effectable.Class<Token.Token, TokenError.HttpError> {
      constructor(readonly request: Request | undefined) {
        super()
      }
      commit(): Effect.Effect<Token.Token, TokenError.HttpError> {
        return hit(this.request)
      }
      override [Symbol.iterator](): Effect.EffectGenerator<Effect.Effect<Token.Token, TokenError.HttpError>> {
        return new SingleShotGen(new YieldWrap(hit(this.request))) as unknown as Effect.EffectGenerator<
          Effect.Effect<Token.Token, TokenError.HttpError>
        >
      }
    }

    const withSlot = <A>(request: Request | undefined, f: (slot: Engine.Slot) => Effect.Effect<A>) =>
      Effect.suspend(() => f(slotOf(request, clock.unsafeCurrentTimeMillis())))

    const remove = (subject: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const prefix = `${grant.key};${subjectPart(subject)}`
        const keys: Array<string> = []
        for (const slot of slots.values()) {
          if (slot.key === prefix || slot.key.startsWith(`${prefix};`)) {
            slots.delete(slot.key)
            keys.push(slot.key)
          }
        }
        const removeKey = (key: string) => engine.safe.visit(key).remove
        return Effect.zipRight(
          Effect.forEach(keys, removeKey, { discard: true }),
          engine.safe.removePrefix(prefix, removeKey)
        )
      })

    const service: Service = {
      get: (request) => new Get(request),
      current: (request) => Effect.suspend(() => engine.current(slotOf(request, clock.unsafeCurrentTimeMillis()))),
      refresh: (request) => Effect.suspend(() => engine.refresh(slotOf(request, clock.unsafeCurrentTimeMillis()))),
      invalidate: (request, rejected) => withSlot(request, (slot) => engine.invalidate(slot, rejected)),
      set: (request, token) => withSlot(request, (slot) => engine.set(slot, token)),
      remove,
      keyOf,
      service: (request) => serviceFor(request),
      size: Effect.sync(() => slots.size)
    }

    const serviceFor = (request: Request | undefined): TokenService.Service => {
      // a view resolves its slot on each use: a slot may have been dropped since the last
      return {
        key: keyOf(request),
        get: service.get(request),
        current: service.current(request),
        refresh: service.refresh(request),
        invalidate: (rejected) => service.invalidate(request, rejected)
      }
    }
    return service
  })
