/**
 * The token service: the engine (`tokenEngine.ts`) with one slot, the grant's.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { SingleShotGen, YieldWrap } from "effect/Utils"
import * as Grant from "../Grant.js"
import type * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"
import type { Options, Service } from "../TokenService.js"
import * as Engine from "./tokenEngine.js"
import * as TokenRequest from "./tokenRequest.js"
import * as CacheState from "./tokenState.js"

/** @internal */
export const tokenRequests = TokenRequest.tokenRequests

/** @internal */
export const tokenRequestSpan = TokenRequest.tokenRequestSpan

/**
 * The `Service` of one slot of an engine: what a `TokenService` is, and what a `TokenCache` hands out
 * for one request.
 *
 * @internal
 */
export const fromSlot = (engine: Engine.Engine, slot: Engine.Slot): Service => {
  const clock = engine.clock
  const step = () => engine.step(slot, clock.unsafeCurrentTimeMillis())
  // One step for a hit. In `Effect.gen`, `yield* get` yields the cached `Exit` itself, which the runtime
  // takes without entering its run loop (as it does for `Effect.succeed`).
  const get: Effect.Effect<Token.Token, TokenError.HttpError> = Effect.suspend(step)
  Object.defineProperty(get, Symbol.iterator, {
    value: () => new SingleShotGen(new YieldWrap(step()))
  })
  const service: Service = {
    key: slot.key,
    get,
    current: engine.current(slot),
    refresh: Effect.suspend(() => engine.refresh(slot)),
    invalidate: (rejected) => engine.invalidate(slot, rejected)
  }
  // the cached token when it is not due, read without entering the runtime: `TokenManager.getToken`
  Object.defineProperty(service, PeekTypeId, { value: () => engine.peek(slot) })
  return service
}

/** @internal */
export const make = (
  options: Options = {}
): Effect.Effect<
  Service,
  never,
  Scope.Scope | Grant.Grant
> =>
  Effect.gen(function*() {
    const grant = yield* Grant.Grant
    const engine = yield* Engine.make(options)
    return fromSlot(engine, Engine.makeSlot(grant.key, grant, engine.clock.unsafeCurrentTimeMillis()))
  })

/** @internal */
export const PeekTypeId: typeof CacheState.PeekTypeId = CacheState.PeekTypeId

/** @internal */
export const peek = CacheState.peek
