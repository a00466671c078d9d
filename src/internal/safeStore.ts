/**
 * Any token store as one the token service can trust: nothing it does fails, dies or hangs.
 *
 * - `load` answers `None` for a missing token, and also (logged) for a corrupted one or a store that
 *   failed; `save` and `remove` log their failures.
 * - Every operation is bounded: a store that does not answer within `storeTimeout` has failed.
 * - `lock` waits at most `lockTimeout` for the store's lock; a lock that fails, dies or is not had in
 *   time is logged, and the work goes on without it. Its release is bounded by `storeTimeout`: one that
 *   hangs is left behind (logged), so the work done under it is never lost to it.
 * - A *visit* is what one renewal asks of the store. Once a load or a save has failed slowly in a visit
 *   (no answer within `storeTimeout`, or a `StoreError` that took `min(1 s, storeTimeout)` or more: a
 *   store with timeouts of its own, Redis's command timeout), or died, the visit asks the store nothing
 *   more (no lock, no load, no save): a store that does not answer costs a renewal one wait, not one per
 *   operation. A store that refuses at once stays in use (a planted token file is refused, and the save
 *   replaces it), and the lock never counts (a broken lock file beside a good token file).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type * as TokenStore from "../TokenStore.js"
import { describeDefect } from "./storeLock.js"

/** @internal */
export interface Options {
  readonly storeTimeout: Duration.Duration
  readonly lockTimeout: Duration.Duration
}

/** What one renewal (or one `current`, one `invalidate`) asks of the store, for one key. */
export interface Visit {
  /** The stored token; `None` when there is none, or none that can be used (logged). */
  readonly load: Effect.Effect<Option.Option<Token.Token>>
  /** Saves the token; a failure is logged (the token is kept in memory only). */
  readonly save: (token: Token.Token) => Effect.Effect<void>
  readonly remove: Effect.Effect<void>
  /** The store's lock, held until the scope closes; when it cannot be had, the work goes on without it. */
  readonly lock: Effect.Effect<void, never, Scope.Scope>
}

/** @internal */
export interface SafeStore {
  readonly visit: (key: string) => Visit
  /**
   * Runs `removeKey` on every stored key that is `prefix` or starts with `prefix;`, for a store that
   * can list its keys (`keys`); a store that cannot, or fails, is logged and left as it is.
   */
  readonly removePrefix: (prefix: string, removeKey: (key: string) => Effect.Effect<void>) => Effect.Effect<void>
}

/** A store operation that took this long to fail means a store that does not answer. */
const slowStoreMillis = 1_000

/** @internal */
export const make = (store: TokenStore.Service, options: Options): Effect.Effect<SafeStore> =>
  Effect.map(Effect.clock, (clock) => {
    const { lockTimeout, storeTimeout } = options
    const slowMillis = Math.min(slowStoreMillis, Duration.toMillis(storeTimeout))

    const visit = (key: string): Visit => {
      let down = false

      /** A store that dies (a bug in it) is treated like one that does not answer: logged, and left alone. */
      const survive = <A>(operation: string, fallback: A) => (effect: Effect.Effect<A>): Effect.Effect<A> =>
        Effect.catchAllDefect(effect, (defect) => {
          down = true
          return Effect.as(
            Effect.logWarning(
              `token store ${operation} failed unexpectedly (${describeDefect(defect)}); going on without it`
            ),
            fallback
          )
        })

      const bounded = <A, E>(
        operation: TokenError.StoreError["operation"],
        effect: Effect.Effect<A, E>
      ): Effect.Effect<A, E | TokenError.StoreError> =>
        Effect.suspend(() => {
          const started = clock.unsafeCurrentTimeMillis()
          return Effect.timeoutFail(effect, {
            duration: storeTimeout,
            onTimeout: () => {
              down = true
              return new TokenError.StoreError({
                key,
                operation,
                reason: `no answer within ${Duration.format(storeTimeout)}`
              })
            }
          }).pipe(Effect.tapError((error) =>
            Effect.sync(() => {
              // a slow failure, not a slow answer: a NotCached or Corrupted that took long is an answer
              const tag = (error as { readonly _tag?: unknown })._tag
              if (tag === "StoreError" && clock.unsafeCurrentTimeMillis() - started >= slowMillis) down = true
            })
          ))
        })

      const load: Effect.Effect<Option.Option<Token.Token>> = Effect.suspend(() =>
        down ? Effect.succeedNone : bounded("load", store.load(key)).pipe(
          Effect.map(Option.some),
          Effect.catchTags({
            NotCached: () => Effect.succeedNone,
            Corrupted: (error) =>
              Effect.as(Effect.logWarning(`${error.message}; fetching a new token to overwrite it`), Option.none()),
            StoreError: (error) => Effect.as(Effect.logWarning(`${error.message}; fetching on our own`), Option.none())
          }),
          survive("load", Option.none())
        )
      )

      const save = (token: Token.Token): Effect.Effect<void> =>
        Effect.suspend(() =>
          down
            ? Effect.logDebug("the token store failed during this renewal: the token is kept in memory only")
            : bounded("save", store.save(key, token)).pipe(
              Effect.catchAll((error) => Effect.logWarning(`${error.message}; the token is kept in memory only`)),
              survive<void>("save", undefined)
            )
        )

      const remove: Effect.Effect<void> = Effect.suspend(() =>
        down ? Effect.void : bounded("remove", store.remove(key)).pipe(
          Effect.catchAll((error) => Effect.logWarning(error.message)),
          survive<void>("remove", undefined)
        )
      )

      /** Gives the lock back, waiting at most `storeTimeout`: a release that hangs is left behind. */
      const release = (held: Scope.CloseableScope): Effect.Effect<void> =>
        Effect.forkDaemon(Scope.close(held, Exit.void)).pipe(
          Effect.flatMap((fiber) =>
            // interruptible: a finalizer runs uninterruptibly, and the timeout must be able to stop the wait
            Effect.timeoutTo(Effect.interruptible(Fiber.await(fiber)), {
              duration: storeTimeout,
              onTimeout: () => undefined,
              onSuccess: Option.some
            })
          ),
          Effect.flatMap((exit) =>
            exit === undefined
              ? Effect.logWarning(
                `token store lock not released within ${Duration.format(storeTimeout)}; going on without waiting for it`
              )
              : Option.isSome(exit) && Exit.isFailure(exit.value)
              ? Effect.logWarning(
                `token store lock failed unexpectedly when given back (${
                  describeDefect(Cause.squash(exit.value.cause))
                })`
              )
              : Effect.void
          )
        )

      const lock: Effect.Effect<void, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          if (down) return
          const outer = yield* Effect.scope
          const held = yield* Scope.make()
          // disconnected: a store whose acquisition does not stop when interrupted cannot hold us past the timeout
          const exit = yield* Effect.exit(restore(
            Effect.disconnect(Scope.extend(store.lock(key), held)).pipe(
              Effect.timeoutFail({
                duration: lockTimeout,
                onTimeout: () =>
                  new TokenError.StoreError({
                    key,
                    operation: "lock",
                    reason: `not acquired within ${Duration.format(lockTimeout)}`
                  })
              })
            )
          ))
          if (Exit.isSuccess(exit)) return yield* Scope.addFinalizer(outer, release(held))
          // nothing is held, or a lock had after the timeout is given back as soon as it is
          yield* Effect.forkDaemon(Scope.close(held, Exit.void))
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          const failure = Cause.failureOption(exit.cause)
          yield* Effect.logWarning(
            `${
              Option.isSome(failure)
                ? failure.value.message
                : `token store lock failed unexpectedly (${describeDefect(Cause.squash(exit.cause))})`
            }; fetching without the store's lock`
          )
        })
      )

      return { load, save, remove, lock }
    }
    const removePrefix = (
      prefix: string,
      removeKey: (key: string) => Effect.Effect<void>
    ): Effect.Effect<void> => {
      const list = store.keys
      if (list === undefined) {
        return Effect.logDebug("the token store cannot list its keys: only the tokens in memory were removed")
      }
      return Effect.timeoutFail(list(prefix), {
        duration: storeTimeout,
        onTimeout: () =>
          new TokenError.StoreError({
            key: prefix,
            operation: "load",
            reason: `no answer within ${Duration.format(storeTimeout)}`
          })
      }).pipe(
        Effect.flatMap((keys) =>
          Effect.forEach(
            keys.filter((key) => key === prefix || key.startsWith(`${prefix};`)),
            removeKey,
            { discard: true }
          )
        ),
        Effect.catchAll((error) => Effect.logWarning(`${error.message}; the stored tokens were not all removed`)),
        Effect.catchAllDefect((defect) =>
          Effect.logWarning(`token store keys failed unexpectedly (${describeDefect(defect)})`)
        )
      )
    }
    return { visit, removePrefix }
  })
