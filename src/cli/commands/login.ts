/**
 * `tokenlayer login`: the device flow (the verification URI and code on stderr, a QR code and a live
 * countdown on a terminal), through the token service, which saves the token in the file store under
 * its lock; for the other grants, a new token now.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as RefreshPolicy from "../../RefreshPolicy.js"
import type * as Token from "../../Token.js"
import type * as Args from "../Args.js"
import * as Errors from "../Errors.js"
import * as Grants from "../Grants.js"
import * as Output from "../Output.js"
import * as Settings from "../Settings.js"
import { httpClient, optionalSecret, refreshPolicy, tokenService } from "../Tokens.js"

/**
 * The device prompt of `login`: the verification URI and the user code on stderr, a QR code of
 * `verification_uri_complete` when stderr is a terminal, and the time left while the flow polls (a live
 * countdown on a terminal, a line a minute otherwise). The countdown runs in `scope`, and is stopped by
 * whoever holds `countdown`.
 */
const devicePrompt = (
  scope: Scope.Scope,
  countdown: Ref.Ref<Option.Option<Fiber.RuntimeFiber<void>>>
): Grants.Prompt =>
(authorization) =>
  Effect.gen(function*() {
    const terminal = Output.stderrIsTerminal()
    // the server's words, escaped and bounded
    yield* Output.err(
      `to sign in, open ${Errors.oneLine(authorization.verificationUri, 500)} and enter the code ${
        Errors.oneLine(authorization.userCode, 100)
      }`
    )
    if (authorization.verificationUriComplete !== undefined) {
      yield* Output.err(`or open ${Errors.oneLine(authorization.verificationUriComplete, 600)}`)
    }
    if (terminal) {
      // the QR code library, only for a person at a terminal
      const qr = yield* Effect.flatMap(Effect.promise(() => import("../Qr.js")), (Qr) =>
        Qr.render(authorization.verificationUriComplete ?? authorization.verificationUri))
      if (Option.isSome(qr)) {
        yield* Output.errRaw(qr.value)
      }
    }
    const deadline = authorization.expiresAt.epochMillis
    const tick = terminal
      ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Output.errRaw(`\r\x1b[2Ktokenlayer: waiting for approval, ${Output.formatClock(deadline - now)} left`))
      : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Output.err(`waiting for approval; the code expires in ${Output.formatDuration(deadline - now)}`))
    const fiber = yield* Effect.forkIn(
      Effect.forever(Effect.zipRight(tick, Effect.sleep(terminal ? "1 second" : "1 minute"))),
      scope
    )
    yield* Ref.set(countdown, Option.some(fiber))
  })

const stopCountdown = (countdown: Ref.Ref<Option.Option<Fiber.RuntimeFiber<void>>>) =>
  Effect.flatMap(Ref.getAndSet(countdown, Option.none()), (fiber) =>
    Option.isNone(fiber)
      ? Effect.void
      : Effect.zipRight(
        Fiber.interrupt(fiber.value),
        Output.stderrIsTerminal() ? Output.errRaw("\r\x1b[2K") : Effect.void
      ))

const describeNewToken = (token: Token.Token, policy: RefreshPolicy.Service): string => {
  const expiresAt = policy.expiresAt(token)
  return `valid until ${DateTime.formatIso(expiresAt)}${
    token.scope === undefined ? "" : `, scope ${Errors.oneLine(token.scope, 300)}`
  }${token.refreshToken === undefined ? "" : ", with a refresh token"}`
}

/**
 * `tokenlayer login`.
 *
 * @since 0.1.0
 * @category commands
 */
export const login = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const settings = yield* Settings.resolve(parsed.values)
    const client = yield* httpClient
    const secret = yield* optionalSecret(settings)
    const policy = refreshPolicy(settings)
    const scope = yield* Effect.scope
    const countdown = yield* Ref.make(Option.none<Fiber.RuntimeFiber<void>>())
    const grant = yield* Grants.makeGrant(settings, secret, client, devicePrompt(scope, countdown))
    // a login is a new device flow, whatever is cached (a refresh token would only renew the old login)
    const login = settings.grant === "device_code" ? { ...grant, request: () => grant.request(Option.none()) } : grant
    const tokens = yield* tokenService(settings, login)
    const token = yield* tokens.refresh.pipe(
      Effect.ensuring(stopCountdown(countdown)),
      Effect.mapError((error) => Errors.fromHttpError(error, settings))
    )
    yield* Output.err(
      `profile ${settings.profile}: ${settings.grant === "device_code" ? "logged in, token" : "new token,"} ${
        describeNewToken(token, policy)
      }`
    )
  }).pipe(Effect.scoped)
