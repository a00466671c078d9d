/**
 * What the commands that use tokens share: the refresh policy and the token service of a command's
 * settings over the file store, the traced HTTP client, and a valid token (served through a failed
 * renewal while it is valid).
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Grant from "../Grant.js"
import * as RefreshPolicy from "../RefreshPolicy.js"
import * as RetryPolicy from "../RetryPolicy.js"
import type * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import * as TokenService from "../TokenService.js"
import * as TokenStore from "../TokenStore.js"
import * as Errors from "./Errors.js"
import * as Grants from "./Grants.js"
import * as Output from "./Output.js"
import * as Secrets from "./Secrets.js"
import * as Settings from "./Settings.js"

/**
 * The refresh policy of the settings: `--buffer`, else 1 minute or a tenth of the lifetime.
 *
 * @since 0.1.0
 * @category building blocks
 */
export const refreshPolicy = (settings: Settings.Settings): RefreshPolicy.Service =>
  settings.buffer === undefined
    ? RefreshPolicy.make({ buffer: "1 minute", fraction: 0.1 })
    : RefreshPolicy.make({ buffer: settings.buffer })

/** The HTTP client of the commands, traced at debug level (`--verbose`). */
export const httpClient: Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient> = Effect.map(
  HttpClient.HttpClient,
  Output.traced
)

export const optionalSecret = (settings: Settings.Settings) =>
  Secrets.needsSecret(settings) ? Effect.map(Secrets.readSecret(settings), Option.some) : Effect.succeedNone

/** `login_required` (OpenID Connect): the device flow would have to ask a person. */
const loginRequired = (settings: Settings.Settings): TokenError.HttpError =>
  new TokenError.HttpError({
    reason: "Status",
    error: "login_required",
    detail: `profile ${settings.profile} has no login that can be renewed`
  })

/**
 * A device grant for `token` and `header`: renews with the refresh token, but never starts a device flow
 * (a script has no one to approve it): `login_required` instead, which says to run `tokenlayer login`.
 */
const withoutDeviceFlow = (
  settings: Settings.Settings,
  secret: Option.Option<Redacted.Redacted<string>>,
  client: HttpClient.HttpClient
): Effect.Effect<Grant.Service, Errors.CliError> =>
  Effect.gen(function*() {
    const asked = yield* Deferred.make<void>()
    const grant = yield* Grants.makeGrant(
      settings,
      secret,
      client,
      () => Effect.zipRight(Deferred.succeed(asked, undefined), Effect.never)
    )
    return {
      ...grant,
      request: (current) =>
        Option.isNone(current) || current.value.refreshToken === undefined
          ? Effect.fail(loginRequired(settings))
          : Effect.raceFirst(
            grant.request(current),
            Effect.zipRight(Deferred.await(asked), Effect.fail(loginRequired(settings)))
          )
    } satisfies Grant.Service
  })

/** A token service over the settings' grant and the file store, in the current scope. */
export const tokenService = (
  settings: Settings.Settings,
  grant: Grant.Service
): Effect.Effect<TokenService.Service, never, Scope.Scope> =>
  TokenService.make().pipe(
    Effect.provideService(Grant.Grant, grant),
    Effect.provideService(RefreshPolicy.RefreshPolicy, refreshPolicy(settings)),
    Effect.provide(Layer.merge(
      RetryPolicy.layerWith({ retries: settings.retries }),
      TokenStore.layerFile({ directory: settings.stateDir })
    ))
  )

/** The file store of the settings, as a value (for `status`, `login`, `logout`). */
export const fileStore = (settings: Settings.Settings) => TokenStore.makeFile({ directory: settings.stateDir })

export const storeFailure = (error: TokenError.StoreError): Errors.CliError =>
  Errors.config(`the token store failed: ${Errors.oneLine(error.reason, 300)}`)

/** A valid token for the settings, from the store or the server. */
export const validToken = (flags: Settings.Flags) =>
  Effect.gen(function*() {
    const settings = yield* Settings.resolve(flags)
    const client = yield* httpClient
    const secret = yield* optionalSecret(settings)
    const grant = settings.grant === "device_code"
      ? yield* withoutDeviceFlow(settings, secret, client)
      : yield* Grants.makeGrant(settings, secret, client)
    const tokens = yield* tokenService(settings, grant)
    const token = yield* tokens.get.pipe(Effect.catchAll((error) => stillValid(settings, tokens, error)))
    return { settings, token }
  }).pipe(Effect.scoped)

/**
 * A renewal that failed while the cached token is still valid (due, not expired): the cached token,
 * with a warning, until it expires, as the library serves it through a failed renewal. A new process
 * has no token in memory (the service's hold applies to tokens it holds), so the command reads the
 * store's copy itself; past its expiry, or with nothing cached, the typed failure.
 */
const stillValid = (
  settings: Settings.Settings,
  tokens: TokenService.Service,
  error: TokenError.HttpError
): Effect.Effect<Token.Token, Errors.CliError> =>
  tokens.current.pipe(
    Effect.tap((token) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const left = refreshPolicy(settings).expiresAt(token).epochMillis - now
        return Output.err(
          `warning: profile ${settings.profile}: the token could not be renewed (${
            Errors.fromHttpError(error, settings).text.replace(`profile ${settings.profile}: `, "")
          }); the cached token is still valid for ${Output.formatDuration(left)} and is used`
        )
      })
    ),
    Effect.mapError(() => Errors.fromHttpError(error, settings))
  )
